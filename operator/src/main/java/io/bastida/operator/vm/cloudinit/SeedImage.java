package io.bastida.operator.vm.cloudinit;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Makes the ISO 9660 image of a NoCloud seed: volume label {@code cidata}, with Rock Ridge and
 * Joliet so that the lower-case file names survive. Runs {@code genisoimage} (Debian: genisoimage)
 * or else {@code xorriso -as mkisofs}, with arguments as a list and a timeout. The files are staged
 * in a private temporary directory that is removed afterwards. Thread-safe.
 */
public final class SeedImage {
  static final String VOLUME_ID = "cidata";
  private static final int MAX_STDERR_BYTES = 4096;

  private final List<String> mkisofs;
  private final Duration timeout;

  /**
   * @param mkisofs the command that takes mkisofs options, e.g. {@code [genisoimage]}
   * @param timeout bounds each run
   */
  public SeedImage(List<String> mkisofs, Duration timeout) {
    if (mkisofs.isEmpty()) {
      throw new IllegalArgumentException("no mkisofs command");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.mkisofs = List.copyOf(mkisofs);
    this.timeout = timeout;
  }

  /** genisoimage from the PATH, else xorriso; genisoimage (failing on use) if neither is there. */
  public static SeedImage fromPath(Duration timeout) {
    if (!onPath("genisoimage") && onPath("xorriso")) {
      return new SeedImage(List.of("xorriso", "-as", "mkisofs"), timeout);
    }
    return new SeedImage(List.of("genisoimage"), timeout);
  }

  /** The image's bytes (a few hundred KiB). */
  public byte[] build(CloudInitSeed seed) throws IOException {
    Path work =
        Files.createTempDirectory(
            "bastida-cidata-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      Path content = Files.createDirectory(work.resolve("content"));
      Files.writeString(content.resolve("meta-data"), seed.metaData(), StandardCharsets.UTF_8);
      Files.writeString(content.resolve("user-data"), seed.userData(), StandardCharsets.UTF_8);
      if (seed.networkConfig() != null) {
        Files.writeString(
            content.resolve("network-config"), seed.networkConfig(), StandardCharsets.UTF_8);
      }
      Path image = work.resolve("cidata.iso");
      run(arguments(image, content), work.resolve("stderr"));
      return Files.readAllBytes(image);
    } finally {
      deleteRecursively(work);
    }
  }

  List<String> arguments(Path image, Path content) {
    List<String> command = new ArrayList<>(mkisofs);
    command.addAll(
        List.of(
            "-output",
            image.toString(),
            "-volid",
            VOLUME_ID,
            "-joliet",
            "-rock",
            content.toString()));
    return command;
  }

  private void run(List<String> command, Path stderr) throws IOException {
    String commandLine = String.join(" ", command);
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(stderr.toFile());
    builder.environment().put("LC_ALL", "C");
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new IOException("cannot run " + commandLine + ": " + e.getMessage(), e);
    }
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor();
        throw new IOException(commandLine + " timed out after " + timeout.toMillis() + " ms");
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(commandLine + " interrupted");
    }
    if (process.exitValue() != 0) {
      String message = head(stderr);
      throw new IOException(
          commandLine
              + " failed (exit "
              + process.exitValue()
              + "): "
              + (message.isEmpty() ? "no error output" : message));
    }
  }

  private static String head(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(MAX_STDERR_BYTES), StandardCharsets.UTF_8).strip();
    }
  }

  private static boolean onPath(String command) {
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .anyMatch(directory -> Files.isExecutable(Path.of(directory, command)));
  }

  private static void deleteRecursively(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }
}
