package io.bastida.operator.backup;

import static io.bastida.operator.backup.BackupRun.step;

import io.bastida.api.v1alpha1.BackupMode;
import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.operator.backup.BackupRun.StepFailed;
import io.bastida.storage.QemuImg;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backs a VM up onto an NFS export, the operator copying with qemu-img: a running VM's disks from
 * the NBD export of a pull-mode libvirt backup (an incremental only the extents its dirty bitmap
 * marks, into an overlay rebased onto the parent's image), a stopped VM's from their NFS images.
 * With {@code verify} each copy is compared with its source while the job still shows the backup's
 * moment, and a throwaway copy of the VM boots from the backup; each image is checked with {@code
 * qemu-img check}.
 */
final class NfsBackupCopy implements BackupCopy {
  private static final Logger log = LoggerFactory.getLogger(NfsBackupCopy.class);

  private final BackupRun run;
  private final BackupRun.Request request;
  private final Hypervisor hypervisor;
  private final NfsBackupStore nfs;

  NfsBackupCopy(BackupRun run, NfsBackupStore nfs) {
    this.run = run;
    this.request = run.request();
    this.hypervisor = run.hypervisor();
    this.nfs = nfs;
  }

  @Override
  public List<BackupManifest.Disk> copy(List<DomainDisks.Disk> disks) throws StepFailed {
    List<BackupManifest.Disk> stored = new ArrayList<>();
    if (!request.running()) {
      for (DomainDisks.Disk disk : disks) {
        stored.add(copyStopped(disk));
      }
      return stored;
    }
    BackupExport nbd = beginPullJob(disks);
    try {
      for (DomainDisks.Disk disk : disks) {
        stored.add(copyFromExport(nbd, disk));
      }
    } finally {
      step("BackupJobFailed", () -> hypervisor.endBackup(request.domainName()));
    }
    return stored;
  }

  /**
   * The images were compared with the VM's disks during the copy, while the export showed the
   * backup's moment; now a throwaway copy of the VM boots from them on its host ({@link
   * ThrowawayBoot}), over overlays beside them on the export that QEMU opens itself.
   */
  @Override
  public BackupManifest.Verification verify(List<DomainDisks.Disk> disks) throws StepFailed {
    Map<String, BootCheckDomain.Overlay> overlays = new LinkedHashMap<>();
    try {
      for (DomainDisks.Disk disk : disks) {
        String image = request.layout().diskPath(disk.target());
        String overlay = request.layout().verifyOverlayPath(disk.target());
        List<String> chain =
            step("VerificationFailed", () -> backingChain(nfs.absolutePath(image)));
        step(
            "VerificationFailed",
            () -> run.qemuImg().createFrom(nfs.url(image), nfs.url(overlay), true));
        overlays.put(
            disk.target(),
            new BootCheckDomain.NfsOverlay(nfs.server(), nfs.absolutePath(overlay), chain));
      }
      String shown =
          ThrowawayBoot.check(hypervisor, request.layout(), request.domainXml(), overlays);
      return new BackupManifest.Verification(
          run.clock().instant(),
          "qemu-img compare with the VM's disks at backup time; booted a throwaway copy on host "
              + request.hostName(),
          true,
          shown);
    } finally {
      for (DomainDisks.Disk disk : disks) {
        try {
          nfs.removeFile(request.layout().verifyOverlayPath(disk.target()));
        } catch (BackupStore.StoreException e) {
          log.warn("Backup {}: an overlay stays: {}", request.layout().folder(), e.getMessage());
        }
      }
    }
  }

  /**
   * The image at {@code path} (absolute on the server) and the images under it, as their headers
   * name them (an incremental names its parent's absolute nfs:// URL).
   */
  private List<String> backingChain(String path) throws IOException {
    String prefix = "nfs://" + nfs.server();
    List<String> chain = new ArrayList<>();
    for (String image = path; image != null; ) {
      chain.add(image);
      String url = prefix + image;
      String backing =
          run.qemuImg()
              .info(url)
              .orElseThrow(() -> new IOException(url + " is missing"))
              .backingFile();
      if (backing != null && !backing.startsWith(prefix + "/")) {
        throw new IOException(
            url + " is backed by " + backing + ", not by an image on the same export");
      }
      image = backing == null ? null : backing.substring(prefix.length());
    }
    return chain;
  }

  /**
   * Starts the pull job, with the guest's file systems frozen around its start when asked: the
   * export shows the disks as they were at that instant.
   */
  private BackupExport beginPullJob(List<DomainDisks.Disk> disks) throws StepFailed {
    run.endLeftoverJob();
    return run.frozenAround(
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

  private BackupManifest.Disk copyFromExport(BackupExport nbd, DomainDisks.Disk disk)
      throws StepFailed {
    String target = nfs.url(request.layout().diskPath(disk.target()));
    String source = nbd.nbdUrl(disk.target());
    boolean incremental = request.chain().mode() == BackupMode.Incremental;
    if (incremental) {
      String parent = nfs.url(run.parentLayout().diskPath(disk.target()));
      long size = request.chain().parentVirtualSizes().getOrDefault(disk.target(), 0L);
      run.progressed(size, 0);
      long copied =
          step(
                  "CopyFailed",
                  () ->
                      run.copier()
                          .copyIncremental(
                              nbd.host(),
                              nbd.port(),
                              nbd.exportByDisk().get(disk.target()),
                              nbd.dirtyBitmapByDisk().get(disk.target()),
                              target,
                              parent,
                              size))
              .bytesCopied();
      run.progressed(0, size);
      log.info(
          "Backup {}: {} incremental, {} bytes changed",
          request.layout().folder(),
          disk.target(),
          copied);
    } else {
      step("CopyFailed", () -> run.copier().copyFull(source, target, request.bytesPerSecond()));
    }
    if (request.verify()
        && !step("VerificationFailed", () -> run.copier().identical(source, "raw", target))) {
      throw new StepFailed(
          "VerificationFailed",
          "disk " + disk.target() + ": the stored image differs from the VM's disk at backup time",
          null);
    }
    return describe(disk, incremental);
  }

  private BackupManifest.Disk copyStopped(DomainDisks.Disk disk) throws StepFailed {
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
    step(
        "CopyFailed",
        () -> run.copier().copyImage(disk.nfsUrl(), target, request.bytesPerSecond()));
    if (request.verify()
        && !step(
            "VerificationFailed",
            () -> run.copier().identical(disk.nfsUrl(), disk.format(), target))) {
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
    String target = nfs.url(path);
    step("ImageCheckFailed", () -> run.copier().check(target));
    QemuImg.ImageInfo info =
        step("ImageCheckFailed", () -> run.qemuImg().info(target))
            .orElseThrow(() -> new StepFailed("ImageCheckFailed", target + " is missing", null));
    if (!incremental) {
      run.progressed(info.virtualSizeBytes(), info.virtualSizeBytes());
    }
    return run.stored(nfs, disk, info.virtualSizeBytes(), incremental);
  }
}
