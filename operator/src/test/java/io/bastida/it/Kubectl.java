package io.bastida.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The kubectl binary the control-plane setup caches, run as a user would. */
public final class Kubectl {
  private Kubectl() {}

  public record Result(int exitCode, String stdout, String stderr) {}

  static Result run(Path kubeconfig, List<String> args) {
    String dir = System.getenv().getOrDefault("KUBE_API_TEST_DIR", "/var/cache/bastida");
    List<String> command = new ArrayList<>();
    command.add(Path.of(dir, "bin", "kubectl").toString());
    command.add("--kubeconfig=" + kubeconfig);
    command.addAll(args);
    try {
      Path out = Files.createTempFile("kubectl-out", ".txt");
      Path err = Files.createTempFile("kubectl-err", ".txt");
      Process process =
          new ProcessBuilder(command)
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("kubectl timed out: " + command);
      }
      Result result =
          new Result(
              process.exitValue(),
              Files.readString(out, StandardCharsets.UTF_8),
              Files.readString(err, StandardCharsets.UTF_8));
      Files.delete(out);
      Files.delete(err);
      return result;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run kubectl", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
