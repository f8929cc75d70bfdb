package io.bastida.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** What {@code kubectl apply} says about bad and good input, against the generated CRDs. */
class ValidationIT {
  private static final Path INVALID = Path.of("src/test/resources/invalid");

  static Stream<Path> invalidResources() throws IOException {
    return Files.list(INVALID).filter(f -> f.toString().endsWith(".yaml")).sorted();
  }

  static Stream<Path> examples() throws IOException {
    return Files.walk(TestCluster.repo().resolve("examples"))
        .filter(f -> f.toString().endsWith(".yaml"))
        .sorted();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidResources")
  void refusedAtApplyWithAMessageNamingTheField(Path file) throws IOException {
    String expected = Files.readAllLines(file).get(0).replaceFirst("^# expect: ", "");

    var result = TestCluster.get().kubectl("apply", "-f", file.toString());

    assertThat(result.exitCode()).as(result.stdout()).isNotZero();
    assertThat(result.stderr()).contains(expected);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void examplesAreAccepted(Path file) {
    TestCluster cluster = TestCluster.get();
    cluster.kubectl("create", "namespace", TestCluster.OPERATOR_NAMESPACE);
    cluster.kubectl("create", "namespace", "school");

    var result = cluster.kubectl("apply", "--dry-run=server", "-f", file.toString());

    assertThat(result.exitCode()).as(result.stderr()).isZero();
  }
}
