package io.bastida.api.v1alpha1;

/** How hosts reach an NFS export. */
public enum NfsAccess {
  /** Each host mounts the export as a libvirt netfs pool (the production default). */
  Mount,
  /** QEMU opens disks itself over libnfs ({@code nfs://} URLs); nothing is mounted on hosts. */
  Native
}
