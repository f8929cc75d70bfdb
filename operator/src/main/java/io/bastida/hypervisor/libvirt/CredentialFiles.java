package io.bastida.hypervisor.libvirt;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A private directory (0700) where credential material is written as 0600 files for libvirt to
 * read; libvirt only takes keys and certificates as paths.
 */
final class CredentialFiles implements AutoCloseable {
  private final Path root;

  CredentialFiles() {
    try {
      root =
          Files.createTempDirectory(
              "bastida-credentials-",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A fresh empty private directory for one host's connection. */
  Path newDirectory(String hostName) throws IOException {
    return Files.createTempDirectory(
        root,
        hostName + "-",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
  }

  /** Writes the bytes to a file readable by the owner only, created with those permissions. */
  static Path writePrivate(Path directory, String name, byte[] content) throws IOException {
    Path file =
        Files.createFile(
            directory.resolve(name),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.write(file, content);
    return file;
  }

  /**
   * An ssh wrapper that trusts exactly the given known_hosts file: libvirt's ssh transport has no
   * parameter for one, but it runs whatever {@code command} names.
   */
  static Path sshWrapper(Path directory, String knownHostsFile) throws IOException {
    String strict = knownHostsFile.equals("/dev/null") ? "no" : "yes";
    String script =
        "#!/bin/sh\n"
            + "exec ssh -o UserKnownHostsFile="
            + quote(knownHostsFile)
            + " -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking="
            + strict
            + " \"$@\"\n";
    Path file =
        Files.createFile(
            directory.resolve("ssh"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.writeString(file, script);
    return file;
  }

  // Paths here are ours (a temp dir), but quote them anyway for the shell.
  private static String quote(String path) {
    return "'" + path.replace("'", "'\\''") + "'";
  }

  static void deleteRecursively(Path directory) {
    try (Stream<Path> paths = Files.walk(directory)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // already gone
    }
  }

  @Override
  public void close() {
    deleteRecursively(root);
  }
}
