package io.bastida.hypervisor;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The one port to a virtualization host. Implementations must be safe for concurrent callers:
 * several reconcilers share the connection of a host.
 */
public interface Hypervisor extends AutoCloseable {

  /** Facts about the host, read fresh on each call. */
  NodeFacts nodeFacts() throws HypervisorException;

  /**
   * Makes the storage pool exist, persistent, autostarted, active and refreshed, creating its
   * target directory if needed; returns its state. Never deletes or formats anything.
   */
  PoolState ensurePool(PoolDefinition pool) throws HypervisorException;

  Optional<PoolState> findPool(String name) throws HypervisorException;

  /** Names of the volumes the pool holds, after a refresh. */
  List<String> listVolumes(String poolName) throws HypervisorException;

  /** Stops and undefines the pool; its directory and volumes are left as they are. */
  void forgetPool(String name) throws HypervisorException;

  /** Creates a thin volume in an active pool, or returns the existing one of that name. */
  VolumeState ensureVolume(String poolName, String volumeName, long capacityBytes, String format)
      throws HypervisorException;

  Optional<VolumeState> findVolume(String poolName, String volumeName) throws HypervisorException;

  /**
   * Makes a qcow2 volume from a template volume of the same pool: linked (a thin overlay with the
   * template as backing file) or a full copy. An existing volume of that name is kept.
   */
  VolumeState cloneVolume(String poolName, String templateName, String volumeName, boolean linked)
      throws HypervisorException;

  /** Creates a raw volume holding exactly these bytes; an existing one of that name is kept. */
  VolumeState uploadVolume(String poolName, String volumeName, byte[] content)
      throws HypervisorException;

  /** Names of the pool's volumes that start with the prefix. */
  List<String> volumesWithPrefix(String poolName, String prefix) throws HypervisorException;

  /** Deletes the volume; a volume that is already gone is fine. */
  void deleteVolume(String poolName, String volumeName) throws HypervisorException;

  Optional<DomainState> findDomain(String name) throws HypervisorException;

  /** All domains of the host, to find those no resource owns. */
  List<DomainState> listDomains() throws HypervisorException;

  /** Defines (or redefines, keeping the UUID) a persistent domain. */
  void defineDomain(String xml) throws HypervisorException;

  void startDomain(String name) throws HypervisorException;

  /** Starts a domain that is not defined: it is gone once it stops or is destroyed. */
  void startTransientDomain(String xml) throws HypervisorException;

  /** The hostname a running guest reports (through its agent), if it does. */
  Optional<String> guestHostname(String name) throws HypervisorException;

  /**
   * The graphical console of a running domain as {@code type:port} (e.g. {@code vnc:5901}), or
   * empty when it has none or no port is assigned yet.
   */
  Optional<String> graphicsConsole(String name) throws HypervisorException;

  /** Changes a running domain's memory (balloon) and online vCPUs, within its maximums. */
  void resizeRunningDomain(String name, long memoryMiB, int vcpus) throws HypervisorException;

  /**
   * IP addresses of a running domain's interfaces by MAC address, as its guest agent reports them;
   * empty when the agent does not answer.
   */
  Map<String, List<String>> guestAddresses(String name) throws HypervisorException;

  /** Asks the guest to power off (ACPI); returns at once. */
  void shutdownDomain(String name) throws HypervisorException;

  /** Powers off at once, like pulling the plug. */
  void destroyDomain(String name) throws HypervisorException;

  void suspendDomain(String name) throws HypervisorException;

  void resumeDomain(String name) throws HypervisorException;

  /**
   * Removes the domain's definition with its snapshot and checkpoint metadata and NVRAM; a domain
   * that is already gone is fine. Disks are not touched.
   */
  void undefineDomain(String name) throws HypervisorException;

  /**
   * Migrates a running domain live to another host and returns when it is done: then the domain
   * runs there, persistent, and is undefined here. On failure (or {@link #abortMigration}) it keeps
   * running here. Snapshot and checkpoint metadata must be detached first ({@link
   * #detachMetadata}): libvirt refuses to migrate a domain with snapshots.
   */
  void migrateDomain(String name, MigrationRequest request) throws HypervisorException;

  /** The running migration job of a domain, or empty when it has none. */
  Optional<MigrationProgress> migrationProgress(String name) throws HypervisorException;

  /**
   * Statistics of the domain's last completed migration (on either end), with the measured
   * downtime; empty when the host has none to report.
   */
  Optional<MigrationProgress> completedMigration(String name) throws HypervisorException;

  /** Raises (or lowers) the pause allowed at switch-over of the domain's running migration. */
  void setMigrationMaxDowntime(String name, long millis) throws HypervisorException;

  /** Aborts the domain's running migration; it goes on running here. No job is fine. */
  void abortMigration(String name) throws HypervisorException;

  /** The domain's snapshot and checkpoint definitions. */
  DomainMetadata exportMetadata(String name) throws HypervisorException;

  /** Removes the definitions from libvirt's records only; disk data and bitmaps stay. */
  void detachMetadata(String name, DomainMetadata metadata) throws HypervisorException;

  /** Redefines snapshots and checkpoints from their XML; those already defined are kept. */
  void redefineMetadata(String name, DomainMetadata metadata) throws HypervisorException;

  /**
   * Takes an internal snapshot of the domain's writable disks, kept in their qcow2 images; with
   * {@code saveMemory} (running domains only) the guest's RAM too. A snapshot of that name that
   * exists already is returned as it is.
   */
  SnapshotInfo createSnapshot(
      String domain, String snapshot, String description, boolean saveMemory)
      throws HypervisorException;

  Optional<SnapshotInfo> findSnapshot(String domain, String snapshot) throws HypervisorException;

  /**
   * Takes the domain back to the snapshot: disks, and RAM when the snapshot has it (then the domain
   * runs again from that moment; otherwise it is left off).
   */
  void revertToSnapshot(String domain, String snapshot) throws HypervisorException;

  /** Deletes the snapshot and its data in the images; one that is already gone is fine. */
  void deleteSnapshot(String domain, String snapshot) throws HypervisorException;

  /**
   * Asks the guest agent to flush and freeze the guest's file systems; returns how many it froze.
   * Fails when the agent does not answer. Always pair with {@link #thawFilesystems}.
   */
  int freezeFilesystems(String domain) throws HypervisorException;

  void thawFilesystems(String domain) throws HypervisorException;

  /**
   * Starts a pull-mode backup of a running domain, optionally creating a checkpoint at its start,
   * and returns where its disks are served. The job runs until {@link #endBackup}; meanwhile the
   * export shows the disks as they were at its start, whatever the guest writes. When the domain
   * has a backup job already, that job's export is returned and nothing is started, so a retry
   * after a lost reply finds its job again.
   */
  BackupExport beginPullBackup(String domain, PullBackupRequest request) throws HypervisorException;

  /** The export of the domain's running pull-mode backup, or empty when it has none. */
  Optional<BackupExport> runningBackup(String domain) throws HypervisorException;

  /**
   * Ends the domain's backup job; no job is fine. A checkpoint the job created stays: after a
   * failed copy, delete it with {@link #deleteCheckpoint}, or the next incremental backup would
   * miss the changes before it.
   */
  void endBackup(String domain) throws HypervisorException;

  /**
   * Starts a push-mode backup of a running domain, optionally creating a checkpoint at its start,
   * and returns at once; follow it with {@link #pushBackupState}. The target images must exist.
   * Fails when the domain has a backup job already.
   */
  void beginPushBackup(String domain, PushBackupRequest request) throws HypervisorException;

  /** The domain's push-mode backup job: running, or how the last one ended. */
  BackupJobState pushBackupState(String domain) throws HypervisorException;

  /** The size the guest sees of a domain's disk (e.g. {@code vda}). */
  long diskCapacity(String domain, String diskTarget) throws HypervisorException;

  /** Names of the domain's checkpoints, each parent before its children. */
  List<String> checkpoints(String domain) throws HypervisorException;

  /**
   * Deletes the checkpoint: its definition and its dirty bitmap in the disk images (changes since
   * its parent are merged into the parent's). One that is already gone is fine.
   */
  void deleteCheckpoint(String domain, String checkpoint) throws HypervisorException;

  // Files on the host itself, for backups kept on its local storage. libvirt reaches them through
  // directory storage pools: paths must be absolute and normalized.

  /** What a directory of the host holds; empty when it does not exist. */
  List<HostFile> listHostDirectory(String path) throws HypervisorException;

  /** Creates the directory with its missing parents. */
  void makeHostDirectory(String path) throws HypervisorException;

  /** Writes a file holding exactly these bytes, replacing one that exists. */
  void writeHostFile(String path, byte[] content) throws HypervisorException;

  /**
   * Writes a file with the content of a file of the operator's, streamed, replacing one that
   * exists: an image restored from a backup the host cannot read itself.
   */
  void uploadHostFile(String path, java.nio.file.Path content) throws HypervisorException;

  /** Reads a whole file; fails for one larger than {@code maxBytes}. */
  byte[] readHostFile(String path, int maxBytes) throws HypervisorException;

  /** The SHA-256 of a file, read whole from the host. */
  String sha256OfHostFile(String path) throws HypervisorException;

  /** Deletes a file, or a directory that is empty; one that is gone is fine. */
  void deleteHostPath(String path) throws HypervisorException;

  /** Creates an empty qcow2 (v3) image, optionally backed by another image of the host. */
  void createHostImage(String path, long capacityBytes, String backingPath)
      throws HypervisorException;

  /**
   * Copies an image of the host, flattened (what its backing chain shows), into a new qcow2 image;
   * an existing target is replaced. The copy runs on the host.
   */
  void copyHostImage(String sourcePath, String targetPath) throws HypervisorException;

  /**
   * Calls the listener with a domain's name whenever the host reports a lifecycle change of it
   * (started, paused, stopped, crashed, undefined, ...), for as long as this connection lives.
   */
  void onDomainChange(Consumer<String> listener) throws HypervisorException;

  /** Whether the underlying connection is still usable. */
  boolean isAlive();

  @Override
  void close();
}
