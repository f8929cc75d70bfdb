package io.bastida.operator.backup;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.BackupJobState;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.hypervisor.PushBackupRequest;
import io.bastida.storage.BackupCopier;
import io.bastida.storage.QemuImg;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup of one VM, start to finish, off the reconciler's thread: copy every writable disk to
 * the storage domain, check the images, checksum them, and write the manifest last. To an NFS store
 * the operator copies over NBD from a pull-mode libvirt backup when the VM runs, straight from its
 * image when it is stopped; into a host's local storage QEMU writes the images itself (push mode),
 * or libvirt copies a stopped VM's images on the host. Whatever fails, the libvirt job is ended and
 * what was written is removed, so a folder with a manifest is always a whole backup.
 */
final class BackupRun {
  private static final Logger log = LoggerFactory.getLogger(BackupRun.class);
  private static final Duration PUSH_POLL = Duration.ofMillis(200);
  // How long a throwaway copy must run to pass, without an agent, and the most an agent may take.
  private static final Duration BOOT_WINDOW = Duration.ofSeconds(10);
  private static final Duration AGENT_BOOT_WINDOW = Duration.ofMinutes(3);
  private static final String VERIFY_OVERLAY_PREFIX = "verify-";

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
    List<BackupManifest.Disk> stored = new ArrayList<>();
    if (store instanceof HostBackupStore host) {
      stored.addAll(request.running() ? pushToHost(host, disks) : copyStoppedOnHost(host, disks));
    } else if (request.running()) {
      NfsBackupStore nfs = (NfsBackupStore) store;
      BackupExport nbd = beginPullJob(disks);
      try {
        for (DomainDisks.Disk disk : disks) {
          stored.add(copyFromExport(nfs, nbd, disk));
        }
      } finally {
        step("BackupJobFailed", () -> hypervisor.endBackup(request.domainName()));
      }
    } else {
      NfsBackupStore nfs = (NfsBackupStore) store;
      for (DomainDisks.Disk disk : disks) {
        stored.add(copyStopped(nfs, disk));
      }
    }
    BackupManifest.Verification verification = null;
    if (request.verify()) {
      verification =
          store instanceof HostBackupStore host
              ? bootCheck(host, disks)
              : new BackupManifest.Verification(
                  clock.instant(),
                  "qemu-img compare with the VM's disks at backup time",
                  true,
                  null);
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
            verification);
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
  private BackupExport beginPullJob(List<DomainDisks.Disk> disks) throws StepFailed {
    endLeftoverJob();
    return frozenAround(
        () ->
            hypervisor.beginPullBackup(
                request.domainName(),
                new PullBackupRequest(
                    request.listenAddress(),
                    request.port(),
                    disks.stream().map(DomainDisks.Disk::target).toList(),
                    request.chain().incrementFromCheckpoint(),
                    request.chain().newCheckpoint())));
  }

  /**
   * Only one backup of a VM runs at a time: a job found now is a leftover of an interrupted one,
   * whose export (or target images) shows an older moment.
   */
  private void endLeftoverJob() throws StepFailed {
    step("BackupJobFailed", () -> hypervisor.endBackup(request.domainName()));
  }

  private <T> T frozenAround(Step<T> start) throws StepFailed {
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

  private BackupManifest.Disk copyFromExport(
      NfsBackupStore nfs, BackupExport nbd, DomainDisks.Disk disk) throws StepFailed {
    String target = nfs.url(request.layout().diskPath(disk.target()));
    String source = nbd.nbdUrl(disk.target());
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    if (incremental) {
      String parent = nfs.url(parentLayout().diskPath(disk.target()));
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
    return describeOnNfs(nfs, disk, incremental);
  }

  private BackupManifest.Disk copyStopped(NfsBackupStore nfs, DomainDisks.Disk disk)
      throws StepFailed {
    if (disk.nfsUrl() == null) {
      // libvirt backs up running domains only; a stopped one is copied from its image directly.
      throw new StepFailed(
          "UnsupportedDisk",
          "disk "
              + disk.target()
              + " is a file on its host: while the VM is stopped, only disks on NFS storage can"
              + " be backed up to an NFS storage domain",
          null);
    }
    String target = nfs.url(request.layout().diskPath(disk.target()));
    step("CopyFailed", () -> copier.copyImage(disk.nfsUrl(), target, request.bytesPerSecond()));
    if (request.verify()
        && !step(
            "VerificationFailed", () -> copier.identical(disk.nfsUrl(), disk.format(), target))) {
      throw new StepFailed(
          "VerificationFailed",
          "disk " + disk.target() + ": the stored image differs from the VM's disk",
          null);
    }
    return describeOnNfs(nfs, disk, false);
  }

  /** Checks the stored image and reads it back whole for its checksum. */
  private BackupManifest.Disk describeOnNfs(
      NfsBackupStore nfs, DomainDisks.Disk disk, boolean incremental) throws StepFailed {
    String path = request.layout().diskPath(disk.target());
    String target = nfs.url(path);
    step("ImageCheckFailed", () -> copier.check(target));
    QemuImg.ImageInfo info =
        step("ImageCheckFailed", () -> qemuImg.info(target))
            .orElseThrow(() -> new StepFailed("ImageCheckFailed", target + " is missing", null));
    if (!incremental) {
      totalBytes.addAndGet(info.virtualSizeBytes());
      processedBytes.addAndGet(info.virtualSizeBytes());
    }
    return stored(nfs, disk, info.virtualSizeBytes(), incremental);
  }

  /**
   * QEMU writes the disks into images in the backup's folder on the host (push mode): the data
   * never leaves the host. An incremental's images are backed by the parent's, so QEMU writes only
   * the changed clusters and the chain reads as the whole disk.
   */
  private List<BackupManifest.Disk> pushToHost(HostBackupStore host, List<DomainDisks.Disk> disks)
      throws StepFailed {
    endLeftoverJob();
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    Map<String, String> images = new java.util.LinkedHashMap<>();
    Map<String, Long> sizes = new java.util.HashMap<>();
    for (DomainDisks.Disk disk : disks) {
      long size =
          step(
              "BackupJobFailed",
              () -> hypervisor.diskCapacity(request.domainName(), disk.target()));
      String image = host.hostPath(request.layout().diskPath(disk.target()));
      String backing = incremental ? host.hostPath(parentLayout().diskPath(disk.target())) : null;
      step("StorageFailed", () -> hypervisor.createHostImage(image, size, backing));
      images.put(disk.target(), image);
      sizes.put(disk.target(), size);
    }
    frozenAround(
        () -> {
          hypervisor.beginPushBackup(
              request.domainName(),
              new PushBackupRequest(
                  images,
                  request.chain().incrementFromCheckpoint(),
                  request.chain().newCheckpoint()));
          return null;
        });
    awaitPushJob();
    List<BackupManifest.Disk> stored = new ArrayList<>();
    for (DomainDisks.Disk disk : disks) {
      stored.add(stored(host, disk, sizes.get(disk.target()), incremental));
    }
    return stored;
  }

  private void awaitPushJob() throws StepFailed {
    while (true) {
      BackupJobState job =
          step("BackupJobFailed", () -> hypervisor.pushBackupState(request.domainName()));
      switch (job.phase()) {
        case Running -> {
          totalBytes.set(job.totalBytes());
          processedBytes.set(job.processedBytes());
        }
        case Completed -> {
          totalBytes.set(job.totalBytes());
          processedBytes.set(job.totalBytes());
          return;
        }
        case Failed -> throw new StepFailed("CopyFailed", job.error(), null);
        case None ->
            throw new StepFailed(
                "CopyFailed",
                "the backup job ended without saying how (the domain stopped?)",
                null);
      }
      try {
        Thread.sleep(PUSH_POLL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new StepFailed("Interrupted", "the operator is stopping", e);
      }
    }
  }

  /** A stopped VM's disks are copied on the host by libvirt, flattened into new images. */
  private List<BackupManifest.Disk> copyStoppedOnHost(
      HostBackupStore host, List<DomainDisks.Disk> disks) throws StepFailed {
    List<BackupManifest.Disk> stored = new ArrayList<>();
    for (DomainDisks.Disk disk : disks) {
      if (disk.file() == null) {
        throw new StepFailed(
            "UnsupportedDisk",
            "disk "
                + disk.target()
                + " is not a file on host "
                + host.hostName()
                + ": it cannot be copied into that host's local storage while the VM is stopped",
            null);
      }
      long size =
          step("CopyFailed", () -> hypervisor.diskCapacity(request.domainName(), disk.target()));
      String image = host.hostPath(request.layout().diskPath(disk.target()));
      step("CopyFailed", () -> hypervisor.copyHostImage(disk.file(), image));
      totalBytes.addAndGet(size);
      processedBytes.addAndGet(size);
      stored.add(stored(host, disk, size, false));
    }
    return stored;
  }

  /** The manifest's entry for a stored image, with its checksum read back from the store. */
  private BackupManifest.Disk stored(
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

  /**
   * Boots a throwaway copy of the VM from the backup on its host (overlays take its writes, the
   * backup is left as it was): the copy must not crash, and must have its guest agent answer when
   * it has one. The operator cannot compare images on a host, so this is what verify means there.
   */
  private BackupManifest.Verification bootCheck(HostBackupStore host, List<DomainDisks.Disk> disks)
      throws StepFailed {
    String name =
        "bastida-verify-" + request.layout().namespace() + "-" + request.layout().backupName();
    Map<String, String> overlays = new java.util.LinkedHashMap<>();
    try {
      for (DomainDisks.Disk disk : disks) {
        String image = host.hostPath(request.layout().diskPath(disk.target()));
        String overlay =
            host.hostPath(
                request.layout().folder() + "/" + VERIFY_OVERLAY_PREFIX + disk.target() + ".qcow2");
        long size =
            step(
                "VerificationFailed",
                () -> hypervisor.diskCapacity(request.domainName(), disk.target()));
        step("VerificationFailed", () -> hypervisor.createHostImage(overlay, size, image));
        overlays.put(disk.target(), overlay);
      }
      String definition =
          step(
              "VerificationFailed",
              () -> BootCheckDomain.definition(request.domainXml(), name, overlays));
      boolean agent = BootCheckDomain.hasGuestAgent(request.domainXml());
      step("VerificationFailed", () -> hypervisor.startTransientDomain(definition));
      long started = System.nanoTime();
      Duration window = agent ? AGENT_BOOT_WINDOW : BOOT_WINDOW;
      while (true) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        var state = step("VerificationFailed", () -> hypervisor.findDomain(name));
        if (state.isEmpty() || state.get().power() == DomainState.Power.Off) {
          throw new StepFailed(
              "VerificationFailed",
              "a throwaway copy booted from the backup stopped "
                  + elapsed.toSeconds()
                  + " s into its boot"
                  + (state.map(DomainState::failed).orElse(false) ? " (it crashed)" : ""),
              null);
        }
        if (agent && guestAnswers(name)) {
          return new BackupManifest.Verification(
              clock.instant(),
              "booted a throwaway copy on host " + host.hostName(),
              true,
              "its guest agent answered " + elapsed.toSeconds() + " s after the start");
        }
        if (elapsed.compareTo(window) >= 0) {
          if (agent) {
            throw new StepFailed(
                "VerificationFailed",
                "a throwaway copy booted from the backup runs, but its guest agent did not answer"
                    + " within "
                    + window.toSeconds()
                    + " s",
                null);
          }
          return new BackupManifest.Verification(
              clock.instant(),
              "booted a throwaway copy on host " + host.hostName(),
              true,
              "it ran "
                  + window.toSeconds()
                  + " s without crashing (the VM has no guest agent to ask more)");
        }
        try {
          Thread.sleep(PUSH_POLL.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new StepFailed("Interrupted", "the operator is stopping", e);
        }
      }
    } finally {
      try {
        hypervisor.destroyDomain(name);
      } catch (HypervisorException e) {
        log.debug(
            "Backup {}: no throwaway domain to stop: {}",
            request.layout().folder(),
            e.getMessage());
      }
      for (String overlay : overlays.values()) {
        try {
          hypervisor.deleteHostPath(overlay);
        } catch (HypervisorException e) {
          log.warn(
              "Backup {}: overlay {} stays: {}",
              request.layout().folder(),
              overlay,
              e.getMessage());
        }
      }
    }
  }

  private boolean guestAnswers(String domain) {
    try {
      return hypervisor.guestHostname(domain).isPresent();
    } catch (HypervisorException notYet) {
      return false;
    }
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

  private BackupLayout parentLayout() {
    return new BackupLayout(
        request.layout().namespace(),
        request.layout().vmName(),
        request.chain().parentBackupName());
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
