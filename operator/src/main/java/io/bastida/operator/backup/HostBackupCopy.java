package io.bastida.operator.backup;

import static io.bastida.operator.backup.BackupRun.step;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.BackupJobState;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.PushBackupRequest;
import io.bastida.operator.backup.BackupRun.StepFailed;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backs a VM up into a directory of its own host: QEMU writes a running VM's disks itself (push
 * mode) into images created first through libvirt (an incremental's backed by the parent's image,
 * so only the changed clusters are written); libvirt copies a stopped VM's disk files on the host.
 * The operator cannot run qemu-img there, so {@code verify} boots a throwaway copy of the VM from
 * the backup instead of comparing images.
 */
final class HostBackupCopy implements BackupCopy {
  private static final Logger log = LoggerFactory.getLogger(HostBackupCopy.class);
  private static final Duration PUSH_POLL = Duration.ofMillis(200);

  private final BackupRun run;
  private final BackupRun.Request request;
  private final Hypervisor hypervisor;
  private final HostBackupStore host;

  /**
   * The disks' sizes as the guest sees them, by target: of the images, and of verify's overlays.
   */
  private final Map<String, Long> sizes = new HashMap<>();

  HostBackupCopy(BackupRun run, HostBackupStore host) {
    this.run = run;
    this.request = run.request();
    this.hypervisor = run.hypervisor();
    this.host = host;
  }

  @Override
  public List<BackupManifest.Disk> copy(List<DomainDisks.Disk> disks) throws StepFailed {
    return request.running() ? pushToHost(disks) : copyStopped(disks);
  }

  /**
   * QEMU writes the disks into images in the backup's folder on the host (push mode): no copy
   * crosses the network (only the checksums' read-back does). An incremental's images are backed by
   * the parent's, so QEMU writes only the changed clusters and the chain reads as the whole disk.
   */
  private List<BackupManifest.Disk> pushToHost(List<DomainDisks.Disk> disks) throws StepFailed {
    run.endLeftoverJob();
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    Map<String, String> images = new LinkedHashMap<>();
    for (DomainDisks.Disk disk : disks) {
      long size =
          step(
              "BackupJobFailed",
              () -> hypervisor.diskCapacity(request.domainName(), disk.target()));
      String image = host.hostPath(request.layout().diskPath(disk.target()));
      String backing =
          incremental ? host.hostPath(run.parentLayout().diskPath(disk.target())) : null;
      step("StorageFailed", () -> hypervisor.createHostImage(image, size, backing));
      images.put(disk.target(), image);
      sizes.put(disk.target(), size);
    }
    run.frozenAround(
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
      stored.add(run.stored(host, disk, sizes.get(disk.target()), incremental));
    }
    return stored;
  }

  private void awaitPushJob() throws StepFailed {
    while (true) {
      BackupJobState job =
          step("BackupJobFailed", () -> hypervisor.pushBackupState(request.domainName()));
      switch (job.phase()) {
        case Running -> run.progress(job.totalBytes(), job.processedBytes());
        case Completed -> {
          run.progress(job.totalBytes(), job.totalBytes());
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
  private List<BackupManifest.Disk> copyStopped(List<DomainDisks.Disk> disks) throws StepFailed {
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
      sizes.put(disk.target(), size);
      run.progressed(size, size);
      stored.add(run.stored(host, disk, size, false));
    }
    return stored;
  }

  /**
   * Boots a throwaway copy of the VM from the backup on its host ({@link ThrowawayBoot}), over
   * overlays next to the backup's images. The operator cannot compare images on a host, so this is
   * what verify means here.
   */
  @Override
  public BackupManifest.Verification verify(List<DomainDisks.Disk> disks) throws StepFailed {
    Map<String, BootCheckDomain.Overlay> overlays = new LinkedHashMap<>();
    try {
      for (DomainDisks.Disk disk : disks) {
        String image = host.hostPath(request.layout().diskPath(disk.target()));
        String overlay = host.hostPath(request.layout().verifyOverlayPath(disk.target()));
        long size = sizes.get(disk.target());
        step("VerificationFailed", () -> hypervisor.createHostImage(overlay, size, image));
        overlays.put(disk.target(), new BootCheckDomain.FileOverlay(overlay));
      }
      String shown =
          ThrowawayBoot.check(hypervisor, request.layout(), request.domainXml(), overlays);
      return new BackupManifest.Verification(
          run.clock().instant(), "booted a throwaway copy on host " + host.hostName(), true, shown);
    } finally {
      for (BootCheckDomain.Overlay overlay : overlays.values()) {
        String path = ((BootCheckDomain.FileOverlay) overlay).path();
        try {
          hypervisor.deleteHostPath(path);
        } catch (HypervisorException e) {
          log.warn(
              "Backup {}: overlay {} stays: {}", request.layout().folder(), path, e.getMessage());
        }
      }
    }
  }
}
