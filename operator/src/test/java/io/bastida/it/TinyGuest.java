package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a test asks a running tiny test guest (hack/guest) over its HTTP server on :8080. */
final class TinyGuest {
  private static final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pattern BOOT_ID = Pattern.compile("boot_id=([0-9a-f-]+)");

  private TinyGuest() {}

  /** The guest's boot id: new at every boot, kept across pauses and live migrations. */
  static Optional<String> bootId(String ip) {
    return says(ip, "").map(BOOT_ID::matcher).filter(Matcher::find).map(m -> m.group(1));
  }

  /** The guest fills a range of its disk with one byte; it answers once that is flushed. */
  static void writes(String ip, int offsetMiB, int sizeMiB, int value) {
    assertThat(
            says(ip, "cgi-bin/write?offset=" + offsetMiB + "&size=" + sizeMiB + "&byte=" + value))
        .hasValueSatisfying(
            answer ->
                assertThat(answer)
                    .contains("wrote " + sizeMiB + " MiB at offset " + offsetMiB + " MiB"));
  }

  /** What the guest says for {@code path}, if it answers 200 within 60 s. */
  static Optional<String> says(String ip, String path) {
    try {
      var response =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + ip + ":8080/" + path))
                  // An emulated guest writing tens of MiB with fsync is slow.
                  .timeout(Duration.ofSeconds(60))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 ? Optional.of(response.body()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }
}
