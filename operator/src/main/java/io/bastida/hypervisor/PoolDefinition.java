package io.bastida.hypervisor;

import java.util.List;

/** A libvirt storage pool Bastida wants on a host. */
public sealed interface PoolDefinition {
  String name();

  /** A directory on the host ({@code dir} pool). */
  record Directory(String name, String path) implements PoolDefinition {}

  /** An NFS export the host mounts at {@code mountPoint} ({@code netfs} pool). */
  record NetworkFilesystem(
      String name, String server, String exportPath, String mountPoint, List<String> mountOptions)
      implements PoolDefinition {
    public NetworkFilesystem {
      mountOptions = List.copyOf(mountOptions);
    }
  }
}
