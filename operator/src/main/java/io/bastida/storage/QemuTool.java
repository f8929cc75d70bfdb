package io.bastida.storage;

import io.bastida.storage.QemuImg.QemuImgException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Runs one of QEMU's command-line tools ({@code qemu-img}, {@code qemu-io}): arguments as a list,
 * never through a shell, no input, each run bounded by a timeout. Thread-safe.
 */
final class QemuTool {

  /** A finished run; {@code stdout} and {@code stderr} are trimmed. */
  record Result(List<String> command, int exitCode, String stdout, String stderr) {
    QemuImgException failure() {
      String message = stderr.isEmpty() ? "no error output" : stderr;
      return new QemuImgException(
          String.join(" ", command) + " failed (exit " + exitCode + "): " + message,
          exitCode,
          stderr,
          null);
    }

    /** This result if the tool exited with 0, else its {@link #failure()}. */
    Result orThrow() throws QemuImgException {
      if (exitCode != 0) {
        throw failure();
      }
      return this;
    }
  }

  // Each run reads stdout and stderr on their own threads, so neither pipe can fill and block it.
  private static final Executor PIPE_READERS =
      command -> {
        Thread thread = new Thread(command, "qemu-tool-output");
        thread.setDaemon(true);
        thread.start();
      };

  private final String binary;
  private final Duration timeout;
  private final int maxOutputBytes;

  /**
   * @param maxOutputBytes how much of each output stream is kept; the rest is read and dropped
   */
  QemuTool(String binary, Duration timeout, int maxOutputBytes) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.binary = binary;
    this.timeout = timeout;
    this.maxOutputBytes = maxOutputBytes;
  }

  Result run(List<String> arguments) throws QemuImgException {
    List<String> command = new ArrayList<>();
    command.add(binary);
    command.addAll(arguments);
    String commandLine = String.join(" ", command);
    ProcessBuilder builder = new ProcessBuilder(command);
    // strerror() texts such as "No such file or directory" follow the locale.
    builder.environment().put("LC_ALL", "C");
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new QemuImgException("cannot run " + commandLine + ": " + e.getMessage(), -1, "", e);
    }
    try {
      closeQuietly(process.getOutputStream()); // the tool must never wait for input
      CompletableFuture<String> stdout = readAsync(process.getInputStream());
      CompletableFuture<String> stderr = readAsync(process.getErrorStream());
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new QemuImgException(
            commandLine + " timed out after " + timeout.toSeconds() + " s", -1, "", null);
      }
      return new Result(command, process.exitValue(), stdout.get().strip(), stderr.get().strip());
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new QemuImgException(commandLine + " interrupted", -1, "", e);
    } catch (ExecutionException e) {
      process.destroyForcibly();
      throw new QemuImgException(
          "cannot read the output of " + commandLine + ": " + e.getCause().getMessage(),
          -1,
          "",
          e.getCause());
    }
  }

  // Keeps the first maxOutputBytes and drains the rest, so the process never blocks on a pipe.
  private CompletableFuture<String> readAsync(InputStream stream) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (InputStream in = stream) {
            byte[] kept = in.readNBytes(maxOutputBytes);
            in.transferTo(OutputStream.nullOutputStream());
            return new String(kept, StandardCharsets.UTF_8);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        },
        PIPE_READERS);
  }

  private static void closeQuietly(OutputStream stream) {
    try {
      stream.close();
    } catch (IOException e) {
      // Nothing was written; the pipe is gone either way.
    }
  }
}
