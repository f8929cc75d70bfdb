package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup of one VM, start to finish, off the reconciler's thread: copy every writable disk to
 * the storage domain ({@link NfsBackupCopy} or {@link HostBackupCopy}, by kind of store), checksum
 * the copies, verify them when asked, and write the manifest last. Whatever fails, the libvirt job
 * is ended and what was written is removed, so a folder with a manifest is always a whole backup.
 */
final class BackupRun {
  private static final Logger log = LoggerFactory.getLogger(BackupRun.class);

  /** Everything the run needs, decided and recorded by the reconciler before it starts. */
  record Request(
      BackupLayout layout,
      String vmUid,
      String policyName,
      String storageDomainName,
      String hostName,
      BackupStore store,
      Chain chain,
      Map<String, String> diskNamesByTarget,
      String listenAddress,
      int port,
      String domainName,
      String domainXml,
      String vmSpecJson,
      boolean running,
      boolean quiesce,
      boolean verify,
      Long bytesPerSecond,
      Instant startedAt) {}

  /**
   * Where the backup sits in its chain.
   *
   * @param parentBackupName null for a full
   * @param incrementFromCheckpoint the parent's checkpoint; null for a full
   * @param newCheckpoint the checkpoint to create with this backup; null for a stopped VM
   * @param parentVirtualSizes the parent's disk sizes by device, for an incremental's overlay
   */
  record Chain(
      BackupMode mode,
      String parentBackupName,
      String incrementFromCheckpoint,
      String baseName,
      int length,
      String newCheckpoint,
      Map<String, Long> parentVirtualSizes) {}

  sealed interface Outcome {}

  /**
   * @param quiesceProblem why the guest's file systems were not frozen when that was asked; null
   *     when they were, or when it was not asked
   */
  record Completed(BackupManifest manifest, String quiesceProblem) implements Outcome {}

  record Failed(String reason, String message) implements Outcome {}

  /** A step failed; the reason names it for the backup's conditions. */
  static final class StepFailed extends Exception {
    private static final long serialVersionUID = 1L;
    final String reason;

    StepFailed(String reason, String message, Throwable cause) {
      super(message, cause);
      this.reason = reason;
    }
  }

  private final Hypervisor hypervisor;
  private final BackupCopier copier;
  private final QemuImg qemuImg;
  private final Clock clock;
  private final Request request;
  private final AtomicLong processedBytes = new AtomicLong();
  private final AtomicLong totalBytes = new AtomicLong();
  private volatile String quiesceProblem;

  BackupRun(
      Hypervisor hypervisor, BackupCopier copier, QemuImg qemuImg, Clock clock, Request request) {
    this.hypervisor = hypervisor;
    this.copier = copier;
    this.qemuImg = qemuImg;
    this.clock = clock;
    this.request = request;
  }

  Request request() {
    return request;
  }

  Hypervisor hypervisor() {
    return hypervisor;
  }

  BackupCopier copier() {
    return copier;
  }

  QemuImg qemuImg() {
    return qemuImg;
  }

  Clock clock() {
    return clock;
  }

  /** Adds to the bytes the backup has to go through, and those it went through. */
  void progressed(long total, long processed) {
    totalBytes.addAndGet(total);
    processedBytes.addAndGet(processed);
  }

  /** The progress of a job that reports its own. */
  void progress(long total, long processed) {
    totalBytes.set(total);
    processedBytes.set(processed);
  }

  long processedBytes() {
    return processedBytes.get();
  }

  long totalBytes() {
    return totalBytes.get();
  }

  Outcome run() {
    try {
      return new Completed(copyAndDescribe(), quiesceProblem);
    } catch (StepFailed e) {
      log.warn("Backup {} failed: {}", request.layout().folder(), e.getMessage());
      cleanUp();
      return new Failed(e.reason, e.getMessage());
    } catch (RuntimeException e) {
      log.error("Backup {} failed unexpectedly", request.layout().folder(), e);
      cleanUp();
      return new Failed("BackupFailed", String.valueOf(e.getMessage()));
    }
  }

  private BackupManifest copyAndDescribe() throws StepFailed {
    List<DomainDisks.Disk> disks = DomainDisks.writable(request.domainXml());
    BackupStore store = request.store();
    step("StorageFailed", () -> store.makeFolder(request.layout().folder()));
    BackupCopy copy =
        store instanceof HostBackupStore host
            ? new HostBackupCopy(this, host)
            : new NfsBackupCopy(this, (NfsBackupStore) store);
    List<BackupManifest.Disk> stored = copy.copy(disks);
    BackupManifest.Verification verification = request.verify() ? copy.verify(disks) : null;
    long total = stored.stream().mapToLong(BackupManifest.Disk::fileSizeBytes).sum();
    Instant completedAt = clock.instant();
    BackupManifest manifest =
        new BackupManifest(
            request.layout().backupName(),
            request.layout().namespace(),
            request.layout().vmName(),
            request.vmUid(),
            request.policyName(),
            request.storageDomainName(),
            request.hostName(),
            request.chain().mode(),
            request.chain().parentBackupName(),
            request.chain().baseName(),
            request.chain().length(),
            request.running() ? request.chain().newCheckpoint() : null,
            request.startedAt(),
            completedAt,
            total,
            stored,
            BackupLayout.DOMAIN_XML_FILE,
            BackupLayout.VM_SPEC_FILE,
            verification);
    write(request.layout().domainXmlPath(), request.domainXml());
    write(request.layout().vmSpecPath(), request.vmSpecJson());
    // Last: a folder with a manifest is a whole backup.
    write(request.layout().manifestPath(), manifest.toJson());
    return manifest;
  }

  /**
   * Only one backup of a VM runs at a time: a job found now is a leftover of an interrupted one,
   * whose export (or target images) shows an older moment.
   */
  void endLeftoverJob() throws StepFailed {
    step("BackupJobFailed", () -> hypervisor.endBackup(request.domainName()));
  }

  /**
   * Starts a backup job with the guest's file systems frozen around its start when asked: the job
   * then sees the disks as they were at that instant.
   */
  <T> T frozenAround(Step<T> start) throws StepFailed {
    boolean frozen = false;
    if (request.quiesce()) {
      try {
        hypervisor.freezeFilesystems(request.domainName());
        frozen = true;
      } catch (HypervisorException e) {
        quiesceProblem = e.getMessage();
      }
    }
    try {
      return step("BackupJobFailed", start);
    } finally {
      if (frozen) {
        try {
          hypervisor.thawFilesystems(request.domainName());
        } catch (HypervisorException e) {
          log.error(
              "Backup {}: could not thaw the guest: {}", request.layout().folder(), e.getMessage());
        }
      }
    }
  }

  /** The manifest's entry for a stored image, with its checksum read back from the store. */
  BackupManifest.Disk stored(
      BackupStore store, DomainDisks.Disk disk, long virtualSize, boolean incremental)
      throws StepFailed {
    String path = request.layout().diskPath(disk.target());
    String sha256 = step("ChecksumFailed", () -> store.sha256(path));
    long fileSize =
        step("ChecksumFailed", () -> store.list(request.layout().folder())).stream()
            .filter(e -> e.name().equals(BackupLayout.diskFile(disk.target())))
            .mapToLong(BackupStore.Entry::sizeBytes)
            .findFirst()
            .orElseThrow(() -> new StepFailed("ChecksumFailed", path + " is missing", null));
    return new BackupManifest.Disk(
        request.diskNamesByTarget().getOrDefault(disk.target(), disk.target()),
        disk.target(),
        BackupLayout.diskFile(disk.target()),
        BackupLayout.DISK_FORMAT,
        virtualSize,
        fileSize,
        sha256,
        incremental
            ? BackupLayout.backingReference(request.chain().parentBackupName(), disk.target())
            : null);
  }

  private void write(String path, String content) throws StepFailed {
    step(
        "StorageFailed",
        () -> request.store().write(path, content.getBytes(StandardCharsets.UTF_8)));
  }

  /** Best effort: the job ended, the unfinished folder and the new checkpoint gone. */
  private void cleanUp() {
    try {
      if (request.running()) {
        hypervisor.endBackup(request.domainName());
      }
      if (request.chain().newCheckpoint() != null
          && hypervisor
              .checkpoints(request.domainName())
              .contains(request.chain().newCheckpoint())) {
        // No backup holds the changes since it: an incremental from it would miss them.
        hypervisor.deleteCheckpoint(request.domainName(), request.chain().newCheckpoint());
      }
    } catch (HypervisorException | RuntimeException e) {
      log.warn(
          "Backup {}: could not end its libvirt job: {}",
          request.layout().folder(),
          e.getMessage());
    }
    try {
      request.store().removeTree(request.layout().folder());
    } catch (BackupStore.StoreException | RuntimeException e) {
      log.warn(
          "Backup {}: could not remove its files: {}", request.layout().folder(), e.getMessage());
    }
  }

  BackupLayout parentLayout() {
    return new BackupLayout(
        request.layout().namespace(),
        request.layout().vmName(),
        request.chain().parentBackupName());
  }

  interface Step<T> {
    T call() throws Exception;
  }

  interface VoidStep {
    void call() throws Exception;
  }

  /** Runs one step; whatever it throws fails the backup with the step's reason. */
  static <T> T step(String reason, Step<T> step) throws StepFailed {
    try {
      return step.call();
    } catch (StepFailed e) {
      throw e;
    } catch (Exception e) {
      throw new StepFailed(reason, e.getMessage(), e);
    }
  }

  static void step(String reason, VoidStep step) throws StepFailed {
    step(
        reason,
        () -> {
          step.call();
          return null;
        });
  }
}
