package io.bastida.operator.backup;

import static io.bastida.operator.backup.BackupRun.step;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.BackupJobState;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.DomainState;
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
 * Backs a VM up into a directory of its own host, where the data stays: QEMU writes a running VM's
 * disks itself (push mode) into images created first through libvirt (an incremental's backed by
 * the parent's image, so only the changed clusters are written); libvirt copies a stopped VM's disk
 * files on the host. The operator cannot run qemu-img there, so {@code verify} boots a throwaway
 * copy of the VM from the backup instead of comparing images.
 */
final class HostBackupCopy implements BackupCopy {
  private static final Logger log = LoggerFactory.getLogger(HostBackupCopy.class);
  private static final Duration PUSH_POLL = Duration.ofMillis(200);
  // How long a throwaway copy must run to pass, without an agent, and the most an agent may take.
  private static final Duration BOOT_WINDOW = Duration.ofSeconds(10);
  private static final Duration AGENT_BOOT_WINDOW = Duration.ofMinutes(3);
  private static final String VERIFY_OVERLAY_PREFIX = "verify-";

  private final BackupRun run;
  private final BackupRun.Request request;
  private final Hypervisor hypervisor;
  private final HostBackupStore host;

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
   * QEMU writes the disks into images in the backup's folder on the host (push mode): the data
   * never leaves the host. An incremental's images are backed by the parent's, so QEMU writes only
   * the changed clusters and the chain reads as the whole disk.
   */
  private List<BackupManifest.Disk> pushToHost(List<DomainDisks.Disk> disks) throws StepFailed {
    run.endLeftoverJob();
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    Map<String, String> images = new LinkedHashMap<>();
    Map<String, Long> sizes = new HashMap<>();
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
      run.progressed(size, size);
      stored.add(run.stored(host, disk, size, false));
    }
    return stored;
  }

  /**
   * Boots a throwaway copy of the VM from the backup on its host (overlays take its writes, the
   * backup is left as it was): the copy must not crash, and must have its guest agent answer when
   * it has one. The operator cannot compare images on a host, so this is what verify means there.
   */
  @Override
  public BackupManifest.Verification verify(List<DomainDisks.Disk> disks) throws StepFailed {
    String name =
        "bastida-verify-" + request.layout().namespace() + "-" + request.layout().backupName();
    Map<String, String> overlays = new LinkedHashMap<>();
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
              run.clock().instant(),
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
              run.clock().instant(),
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
}
