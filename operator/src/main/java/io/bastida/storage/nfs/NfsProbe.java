package io.bastida.storage.nfs;

import io.bastida.storage.nfs.NfsException.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;

/**
 * Reads the capacity of an NFSv3 export over the network, as QEMU's libnfs would reach it, without
 * a kernel NFS client: portmapper, then MOUNT for a file handle, then NFS FSSTAT (RFC 1813).
 *
 * <p>Thread-safe: each {@link #stat} opens, and closes, its own connections.
 */
public final class NfsProbe {
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
  private static final int NFSPROC3_FSSTAT = 18;
  private static final int NFS3_OK = 0;
  private static final int FHSIZE3 = 64;
  private static final int FATTR3_BYTES = 84;

  private final Duration timeout;

  /** {@code timeout} bounds each connect and each wait for a reply. */
  public NfsProbe(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.timeout = timeout;
  }

  public NfsExportStats stat(String server, String exportPath) throws NfsException {
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

    try (RpcConnection mount = RpcConnection.open(at(address, mountPort), timeout)) {
      byte[] fileHandle = mount(mount, exportPath, export);
      try (RpcConnection nfs = RpcConnection.open(nfsAddress, timeout)) {
        Xdr.Decoder reply =
            nfs.call(NFS_PROGRAM, NFS_V3, NFSPROC3_FSSTAT, args -> args.putOpaque(fileHandle));
        return decodeFsstat(reply, export);
      } finally {
        unmount(mount, exportPath);
      }
    }
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
    // The auth flavours listed after the handle need no check: FSSTAT is refused if ours is not.
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

  /** Decodes FSSTAT3res, of which we keep the three byte counts. */
  static NfsExportStats decodeFsstat(Xdr.Decoder reply, String export) throws NfsException {
    int status = reply.getInt();
    if (status != NFS3_OK) {
      throw NfsException.nfsStatus("FSSTAT of " + export, status);
    }
    if (reply.getBoolean()) {
      reply.skip(FATTR3_BYTES); // the export root's attributes
    }
    long total = size3(reply);
    long free = size3(reply);
    long available = size3(reply);
    return new NfsExportStats(total, free, available);
  }

  // size3 is unsigned: 2^63 bytes or more can only mean "unlimited", which saturates.
  private static long size3(Xdr.Decoder reply) throws NfsException {
    long size = reply.getLong();
    return size < 0 ? Long.MAX_VALUE : size;
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
