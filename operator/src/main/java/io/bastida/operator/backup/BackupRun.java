package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import io.bastida.storage.nfs.NfsEntry;
import io.bastida.storage.nfs.NfsException;
import io.bastida.storage.nfs.NfsFiles;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup of one VM, start to finish, off the reconciler's thread: copy every writable disk to
 * the storage domain (over NBD from a pull-mode libvirt backup when the VM runs, straight from its
 * image when it is stopped), check the images, checksum them, and write the manifest last. Whatever
 * fails, the libvirt job is ended and what was written is removed, so a folder with a manifest is
 * always a whole backup.
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
      String nfsServer,
      String nfsExport,
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
  private final NfsFiles files;
  private final Clock clock;
  private final Request request;
  private final AtomicLong processedBytes = new AtomicLong();
  private final AtomicLong totalBytes = new AtomicLong();
  private volatile String quiesceProblem;

  BackupRun(
      Hypervisor hypervisor,
      BackupCopier copier,
      QemuImg qemuImg,
      NfsFiles files,
      Clock clock,
      Request request) {
    this.hypervisor = hypervisor;
    this.copier = copier;
    this.qemuImg = qemuImg;
    this.files = files;
    this.clock = clock;
    this.request = request;
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
    if (!request.running()) {
      // libvirt backs up running domains only; a stopped one is copied from its image directly.
      for (DomainDisks.Disk disk : disks) {
        if (disk.nfsUrl() == null) {
          throw new StepFailed(
              "UnsupportedDisk",
              "disk "
                  + disk.target()
                  + " is a file on its host: only disks on Native NFS storage can be backed up"
                  + " while the VM is stopped",
              null);
        }
      }
    }
    String server = request.nfsServer();
    String export = request.nfsExport();
    step("StorageFailed", () -> files.mkdirs(server, export, request.layout().folder()));
    List<BackupManifest.Disk> stored = new ArrayList<>();
    if (request.running()) {
      BackupExport nbd = beginJob(disks);
      try {
        for (DomainDisks.Disk disk : disks) {
          stored.add(copyFromExport(nbd, disk));
        }
      } finally {
        step("BackupJobFailed", () -> hypervisor.endBackup(request.domainName()));
      }
    } else {
      for (DomainDisks.Disk disk : disks) {
        stored.add(copyStopped(disk));
      }
    }
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
            request.verify()
                ? new BackupManifest.Verification(
                    completedAt, "qemu-img compare with the VM's disks at backup time", true, null)
                : null);
    write(request.layout().domainXmlPath(), request.domainXml());
    write(request.layout().vmSpecPath(), request.vmSpecJson());
    // Last: a folder with a manifest is a whole backup.
    write(request.layout().manifestPath(), manifest.toJson());
    return manifest;
  }

  /**
   * Starts the pull job, with the guest's file systems frozen around its start when asked: the
   * export shows the disks as they were at that instant.
   */
  private BackupExport beginJob(List<DomainDisks.Disk> disks) throws StepFailed {
    // Only one backup of a VM runs at a time: a job found now is a leftover of an interrupted one,
    // whose export shows an older moment.
    step(
        "BackupJobFailed",
        () -> {
          if (hypervisor.runningBackup(request.domainName()).isPresent()) {
            hypervisor.endBackup(request.domainName());
          }
        });
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
      return step(
          "BackupJobFailed",
          () ->
              hypervisor.beginPullBackup(
                  request.domainName(),
                  new PullBackupRequest(
                      request.listenAddress(),
                      request.port(),
                      disks.stream().map(DomainDisks.Disk::target).toList(),
                      request.chain().incrementFromCheckpoint(),
                      request.chain().newCheckpoint())));
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

  private BackupManifest.Disk copyFromExport(BackupExport nbd, DomainDisks.Disk disk)
      throws StepFailed {
    String target = url(request.layout().diskPath(disk.target()));
    String source = nbd.nbdUrl(disk.target());
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    if (incremental) {
      String parent = url(parentLayout().diskPath(disk.target()));
      long size = request.chain().parentVirtualSizes().getOrDefault(disk.target(), 0L);
      totalBytes.addAndGet(size);
      long copied =
          step(
                  "CopyFailed",
                  () ->
                      copier.copyIncremental(
                          nbd.host(),
                          nbd.port(),
                          nbd.exportByDisk().get(disk.target()),
                          nbd.dirtyBitmapByDisk().get(disk.target()),
                          target,
                          parent,
                          size))
              .bytesCopied();
      processedBytes.addAndGet(size);
      log.info(
          "Backup {}: {} incremental, {} bytes changed",
          request.layout().folder(),
          disk.target(),
          copied);
    } else {
      step("CopyFailed", () -> copier.copyFull(source, target, request.bytesPerSecond()));
    }
    if (request.verify()
        && !step("VerificationFailed", () -> copier.identical(source, "raw", target))) {
      throw new StepFailed(
          "VerificationFailed",
          "disk " + disk.target() + ": the stored image differs from the VM's disk at backup time",
          null);
    }
    return describe(disk, incremental);
  }

  private BackupManifest.Disk copyStopped(DomainDisks.Disk disk) throws StepFailed {
    String target = url(request.layout().diskPath(disk.target()));
    step("CopyFailed", () -> copier.copyImage(disk.nfsUrl(), target, request.bytesPerSecond()));
    if (request.verify()
        && !step(
            "VerificationFailed", () -> copier.identical(disk.nfsUrl(), disk.format(), target))) {
      throw new StepFailed(
          "VerificationFailed",
          "disk " + disk.target() + ": the stored image differs from the VM's disk",
          null);
    }
    return describe(disk, false);
  }

  /** Checks the stored image and reads it back whole for its checksum. */
  private BackupManifest.Disk describe(DomainDisks.Disk disk, boolean incremental)
      throws StepFailed {
    String path = request.layout().diskPath(disk.target());
    String target = url(path);
    step("ImageCheckFailed", () -> copier.check(target));
    QemuImg.ImageInfo info =
        step("ImageCheckFailed", () -> qemuImg.info(target))
            .orElseThrow(() -> new StepFailed("ImageCheckFailed", target + " is missing", null));
    String sha256 =
        step("ChecksumFailed", () -> files.sha256(request.nfsServer(), request.nfsExport(), path));
    long fileSize =
        step("ChecksumFailed", () -> files.stat(request.nfsServer(), request.nfsExport(), path))
            .map(NfsEntry::sizeBytes)
            .orElse(0L);
    if (!incremental) {
      totalBytes.addAndGet(info.virtualSizeBytes());
      processedBytes.addAndGet(info.virtualSizeBytes());
    }
    return new BackupManifest.Disk(
        request.diskNamesByTarget().getOrDefault(disk.target(), disk.target()),
        disk.target(),
        BackupLayout.diskFile(disk.target()),
        BackupLayout.DISK_FORMAT,
        info.virtualSizeBytes(),
        fileSize,
        sha256,
        incremental
            ? BackupLayout.backingReference(request.chain().parentBackupName(), disk.target())
            : null);
  }

  private void write(String path, String content) throws StepFailed {
    step(
        "StorageFailed",
        () ->
            files.writeFile(
                request.nfsServer(),
                request.nfsExport(),
                path,
                content.getBytes(StandardCharsets.UTF_8)));
  }

  /** Best effort: the job ended, the unfinished folder and the new checkpoint gone. */
  private void cleanUp() {
    try {
      if (request.running() && hypervisor.runningBackup(request.domainName()).isPresent()) {
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
      files.removeTree(request.nfsServer(), request.nfsExport(), request.layout().folder());
    } catch (NfsException | RuntimeException e) {
      log.warn(
          "Backup {}: could not remove its files: {}", request.layout().folder(), e.getMessage());
    }
  }

  private BackupLayout parentLayout() {
    return new BackupLayout(
        request.layout().namespace(),
        request.layout().vmName(),
        request.chain().parentBackupName());
  }

  private String url(String path) {
    return QemuImg.nfsPathUrl(request.nfsServer(), request.nfsExport(), path);
  }

  private interface Step<T> {
    T call() throws Exception;
  }

  private interface VoidStep {
    void call() throws Exception;
  }

  private static <T> T step(String reason, Step<T> step) throws StepFailed {
    try {
      return step.call();
    } catch (StepFailed e) {
      throw e;
    } catch (Exception e) {
      throw new StepFailed(reason, e.getMessage(), e);
    }
  }

  private static void step(String reason, VoidStep step) throws StepFailed {
    step(
        reason,
        () -> {
          step.call();
          return null;
        });
  }
}
