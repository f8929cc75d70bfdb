package io.bastida.storage.nfs;

import io.bastida.storage.nfs.NfsException.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * An export reached the way QEMU's libnfs reaches it, without a kernel NFS client: the portmapper
 * names the MOUNT and NFS ports, MOUNT gives the export root's file handle, and NFSv3 calls follow
 * on their own connection. Closing it unmounts (best effort) and closes both connections.
 */
final class NfsSession implements AutoCloseable {
  private static final int PORTMAP_PROGRAM = 100000;
  private static final int PORTMAP_V2 = 2;
  private static final int PORTMAP_PORT = 111;
  private static final int PMAPPROC_GETPORT = 3;
  private static final int IPPROTO_TCP = 6;

  private static final int MOUNT_PROGRAM = 100005;
  private static final int MOUNT_V3 = 3;
  private static final int MOUNTPROC3_MNT = 1;
  private static final int MOUNTPROC3_UMNT = 3;
  private static final int MNT3_OK = 0;

  private static final int NFS_PROGRAM = 100003;
  private static final int NFS_V3 = 3;
  private static final int NFS_PORT = 2049;
  static final int FHSIZE3 = 64;

  private final String export;
  private final String exportPath;
  private final RpcConnection mount;
  private final RpcConnection nfs;
  private final byte[] rootHandle;

  private NfsSession(
      String export, String exportPath, RpcConnection mount, RpcConnection nfs, byte[] rootHandle) {
    this.export = export;
    this.exportPath = exportPath;
    this.mount = mount;
    this.nfs = nfs;
    this.rootHandle = rootHandle;
  }

  static NfsSession open(String server, String exportPath, Duration timeout) throws NfsException {
    String export = server + ":" + exportPath;
    InetAddress address = resolve(server);
    int mountPort;
    int nfsPort;
    try (RpcConnection portmap = RpcConnection.open(at(address, PORTMAP_PORT), timeout)) {
      mountPort = getPort(portmap, MOUNT_PROGRAM, MOUNT_V3);
      nfsPort = getPort(portmap, NFS_PROGRAM, NFS_V3);
    }
    if (mountPort == 0) {
      throw new NfsException(Reason.Unreachable, server + " offers no MOUNT v3 service over TCP");
    }
    // Some servers do not register NFS with the portmapper; 2049 is its well-known port.
    InetSocketAddress nfsAddress = at(address, nfsPort == 0 ? NFS_PORT : nfsPort);

    RpcConnection mount = RpcConnection.open(at(address, mountPort), timeout);
    try {
      byte[] rootHandle = mount(mount, exportPath, export);
      try {
        RpcConnection nfs = RpcConnection.open(nfsAddress, timeout);
        return new NfsSession(export, exportPath, mount, nfs, rootHandle);
      } catch (NfsException e) {
        unmount(mount, exportPath);
        throw e;
      }
    } catch (NfsException e) {
      mount.close();
      throw e;
    }
  }

  /** {@code server:/path}, for messages. */
  String export() {
    return export;
  }

  /** The file handle of the export's root directory. */
  byte[] rootHandle() {
    return rootHandle.clone();
  }

  /** Calls an NFSv3 procedure and returns a decoder positioned at its results. */
  Xdr.Decoder call(int procedure, Consumer<Xdr.Encoder> arguments) throws NfsException {
    return nfs.call(NFS_PROGRAM, NFS_V3, procedure, arguments);
  }

  /** As {@link #call(int, Consumer)}, for a reply of up to {@code maxReplyBytes} (READ's data). */
  Xdr.Decoder call(int procedure, Consumer<Xdr.Encoder> arguments, int maxReplyBytes)
      throws NfsException {
    return nfs.call(NFS_PROGRAM, NFS_V3, procedure, arguments, maxReplyBytes);
  }

  @Override
  public void close() {
    nfs.close();
    unmount(mount, exportPath);
    mount.close();
  }

  private static int getPort(RpcConnection portmap, int program, int version) throws NfsException {
    Xdr.Decoder reply =
        portmap.call(
            PORTMAP_PROGRAM,
            PORTMAP_V2,
            PMAPPROC_GETPORT,
            args -> args.putInt(program).putInt(version).putInt(IPPROTO_TCP).putInt(0));
    int port = reply.getInt();
    if (port < 0 || port > 0xFFFF) {
      throw new NfsException(Reason.ProtocolError, "portmapper returned port " + port);
    }
    return port;
  }

  private static byte[] mount(RpcConnection mount, String exportPath, String export)
      throws NfsException {
    Xdr.Decoder reply =
        mount.call(MOUNT_PROGRAM, MOUNT_V3, MOUNTPROC3_MNT, args -> args.putString(exportPath));
    int status = reply.getInt();
    if (status != MNT3_OK) {
      throw NfsException.mountStatus("mount of " + export, status);
    }
    // The auth flavours listed after the handle need no check: NFS calls are refused if ours is
    // not among them.
    return reply.getOpaque(FHSIZE3);
  }

  // Only tidies the server's list of mounts (what showmount prints): nothing depends on it.
  private static void unmount(RpcConnection mount, String exportPath) {
    try {
      mount.call(MOUNT_PROGRAM, MOUNT_V3, MOUNTPROC3_UMNT, args -> args.putString(exportPath));
    } catch (NfsException e) {
      // Best effort.
    }
  }

  private static InetAddress resolve(String server) throws NfsException {
    try {
      return InetAddress.getByName(server);
    } catch (UnknownHostException e) {
      throw new NfsException(Reason.Unreachable, "unknown NFS server " + server, e);
    }
  }

  private static InetSocketAddress at(InetAddress address, int port) {
    return new InetSocketAddress(address, port);
  }
}
