package io.bastida.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * virsh as a person would run it, timed by the benchmark's clock (epoch milliseconds: the same
 * clock virsh's event timestamps and the operator's log use on this machine).
 */
final class Virsh {
  private Virsh() {}

  /** How a virsh command went, with when it started and ended (epoch ms). */
  record Result(List<String> command, int exit, String out, String err, long startMs, long endMs) {
    long millis() {
      return endMs - startMs;
    }

    Result orThrow() {
      if (exit != 0) {
        throw new IllegalStateException(
            String.join(" ", command) + " failed (exit " + exit + "): " + err.strip());
      }
      return this;
    }
  }

  static Result run(String uri, String... args) {
    List<String> command = new ArrayList<>(List.of("virsh", "-q", "-c", uri));
    command.addAll(List.of(args));
    long start = System.currentTimeMillis();
    try {
      Process process = new ProcessBuilder(command).start();
      CompletableFuture<String> out = drain(process.getInputStream());
      CompletableFuture<String> err = drain(process.getErrorStream());
      if (!process.waitFor(300, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " timed out");
      }
      long end = System.currentTimeMillis();
      return new Result(command, process.exitValue(), out.join(), err.join(), start, end);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", command), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted: " + String.join(" ", command), e);
    }
  }

  private static CompletableFuture<String> drain(java.io.InputStream in) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
          } catch (IOException e) {
            return "";
          }
        });
  }

  /**
   * {@code virsh domjobinfo --completed --keep-completed}: the statistics libvirt kept of the last
   * completed job ("Total downtime" → "52 ms", ...); empty when there is none.
   */
  static Map<String, String> completedJob(String uri, String domain) {
    Result result = run(uri, "domjobinfo", "--completed", "--keep-completed", domain);
    Map<String, String> fields = new LinkedHashMap<>();
    if (result.exit() != 0) {
      return fields;
    }
    for (String line : result.out().split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        fields.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
      }
    }
    return fields;
  }

  /** The leading number of a domjobinfo value ("52 ms" → 52), or null. */
  static Long millisOf(Map<String, String> job, String field) {
    String value = job.get(field);
    if (value == null) {
      return null;
    }
    Matcher m = Pattern.compile("^(\\d+)").matcher(value);
    return m.find() ? Long.valueOf(m.group(1)) : null;
  }

  /** One domain event as {@code virsh event --timestamp} printed it. */
  record Event(long epochMs, String host, String type, String domain, String detail) {}

  /**
   * {@code virsh event --all --loop --timestamp} on one host for the whole run: lifecycle events
   * (destination "Started Migrated" when its QEMU is up for an incoming migration, "Resumed
   * Migrated" when the guest runs there; source "Suspended Migrated" at switch-over), migration
   * iterations and completed jobs, each stamped by virsh when it arrived. Line-buffered through
   * stdbuf.
   */
  static final class EventLog implements AutoCloseable {
    private static final Pattern LINE =
        Pattern.compile(
            "^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d{4}): event '([^']+)'"
                + " for domain '?([^':]+)'?:?\\s*(.*)$");
    private static final DateTimeFormatter STAMP =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSZ");

    private final String host;
    private final Process process;
    private final List<Event> events = new ArrayList<>();
    private final List<String> unparsed = new ArrayList<>();
    private final Thread reader;

    EventLog(String host, String uri) throws IOException {
      this.host = host;
      this.process =
          new ProcessBuilder(
                  "stdbuf", "-oL", "virsh", "-c", uri, "event", "--all", "--loop", "--timestamp")
              .redirectErrorStream(true)
              .start();
      this.reader = new Thread(this::read, "virsh-events-" + host);
      reader.setDaemon(true);
      reader.start();
    }

    long pid() {
      return process.pid();
    }

    private void read() {
      try (BufferedReader in =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          Matcher m = LINE.matcher(line);
          synchronized (this) {
            if (m.matches()) {
              long at = OffsetDateTime.parse(m.group(1), STAMP).toInstant().toEpochMilli();
              events.add(new Event(at, host, m.group(2), m.group(3).trim(), m.group(4).trim()));
            } else if (line.startsWith("\t") && !events.isEmpty()) {
              // job-completed prints its statistics on the lines that follow
              Event last = events.remove(events.size() - 1);
              String detail =
                  last.detail().isEmpty() ? line.trim() : last.detail() + "; " + line.trim();
              events.add(new Event(last.epochMs(), host, last.type(), last.domain(), detail));
            } else if (!line.isBlank() && unparsed.size() < 50) {
              unparsed.add(line);
            }
          }
        }
      } catch (IOException e) {
        // the process was stopped
      }
    }

    synchronized List<Event> events() {
      return List.copyOf(events);
    }

    synchronized List<String> unparsed() {
      return List.copyOf(unparsed);
    }

    @Override
    public void close() {
      process.destroy(); // SIGTERM to the PID we started
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
        reader.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
