package io.bastida.operator.vm;

import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomain;
import io.bastida.api.v1alpha1.VirtualMachine;
import io.bastida.api.v1alpha1.VirtualMachineSpec;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.VolumeState;
import io.bastida.operator.storage.NativeNfsVolumes;
import io.bastida.operator.storage.StoragePlanner;
import io.bastida.operator.vm.cloudinit.CloudInitSeed;
import io.bastida.operator.vm.cloudinit.SeedImage;
import io.bastida.operator.vm.domain.DomainPlan;
import java.util.Optional;
import java.util.function.Function;

/**
 * A VM's volumes and cloud-init seed on its storage domains: made when missing (never overwritten),
 * checked for room and content, and deleted per policy. Host pools through the libvirt port; NFS
 * Native exports directly.
 */
final class VmDisks {
  private final NativeNfsVolumes nfsVolumes;
  private final SeedImage seedImages;
  private final Function<String, Optional<StorageDomain>> storageDomains;

  /**
   * @param storageDomains StorageDomains by name, as the reconciler's cache has them
   */
  VmDisks(
      NativeNfsVolumes nfsVolumes,
      SeedImage seedImages,
      Function<String, Optional<StorageDomain>> storageDomains) {
    this.nfsVolumes = nfsVolumes;
    this.seedImages = seedImages;
    this.storageDomains = storageDomains;
  }

  /**
   * The VM's cloud-init seed image on its storage, made when missing. The name carries the seed's
   * digest: changed data is a new image (and a new definition), never a rewrite in place.
   */
  DomainPlan.DiskSource cloudInitSeed(VirtualMachine vm, String hostName, Hypervisor hypervisor)
      throws HypervisorException, ProvisioningException {
    var cloudInit = vm.getSpec().cloudInit;
    String domainName =
        cloudInit.storageDomainName != null
            ? cloudInit.storageDomainName
            : vm.getSpec().disks.stream()
                .findFirst()
                .map(VmPlanner::storageDomainOf)
                .orElseThrow(
                    () ->
                        new ProvisioningException(
                            "CloudInitNeedsStorage",
                            "spec.cloudInit needs somewhere to put its seed image: set"
                                + " spec.cloudInit.storageDomainName or add a disk"));
    StorageDomain domain = storageDomains.apply(domainName).orElse(null);
    StorageContent content =
        domain != null
                && domain.getSpec().getContent() != null
                && domain.getSpec().getContent().contains(StorageContent.ISO)
            ? StorageContent.ISO
            : StorageContent.Disks;
    domain = usableDomain(domainName, hostName, content, VmPlanner.CLOUD_INIT_DISK);
    var seed =
        CloudInitSeed.of(
            vm.getMetadata().getName(),
            vm.getMetadata().getUid(),
            cloudInit.userData,
            cloudInit.networkData);
    String volume = seedPrefix(vm) + seed.digest().substring(0, 16) + ".iso";
    try {
      if (StoragePlanner.isNative(domain.getSpec())) {
        var nfs = domain.getSpec().getNfs();
        if (nfsVolumes.find(nfs.getServer(), nfs.getPath(), volume).isEmpty()) {
          nfsVolumes.upload(nfs.getServer(), nfs.getPath(), volume, seedImages.build(seed));
        }
        return new DomainPlan.DiskSource.Nfs(nfs.getServer(), join(nfs.getPath(), volume));
      }
      String pool = StoragePlanner.poolName(domainName);
      Optional<VolumeState> existing = hypervisor.findVolume(pool, volume);
      VolumeState state =
          existing.isPresent()
              ? existing.get()
              : hypervisor.uploadVolume(pool, volume, seedImages.build(seed));
      return new DomainPlan.DiskSource.File(state.path());
    } catch (java.io.IOException e) {
      throw new ProvisioningException(
          "CloudInitSeedFailed", "cloud-init seed image: " + e.getMessage());
    }
  }

  private static String seedPrefix(VirtualMachine vm) {
    return VmIdentity.seedVolumePrefix(vm.getMetadata().getNamespace(), vm.getMetadata().getName());
  }

  private static String join(String exportPath, String file) {
    return exportPath.endsWith("/") ? exportPath + file : exportPath + "/" + file;
  }

  /** Where the disk's bytes are, creating a blank volume if needed. */
  DomainPlan.DiskSource provision(
      VirtualMachine vm, VirtualMachineSpec.Disk disk, String hostName, Hypervisor hypervisor)
      throws HypervisorException, ProvisioningException {
    String domainName = VmPlanner.storageDomainOf(disk);
    StorageContent needed = disk.iso != null ? StorageContent.ISO : StorageContent.Disks;
    StorageDomain domain = usableDomain(domainName, hostName, needed, disk.name);
    String volume =
        ownsVolume(disk)
            ? VmIdentity.volumeName(
                vm.getMetadata().getNamespace(), vm.getMetadata().getName(), disk.name)
            : disk.image != null ? disk.image.volume : disk.iso.volume;
    if (StoragePlanner.isNative(domain.getSpec())) {
      return nativeNfsDisk(domain, disk, volume);
    }
    String pool = StoragePlanner.poolName(domainName);
    if (disk.clone != null) {
      boolean linked = disk.clone.mode != VirtualMachineSpec.CloneMode.Full;
      try {
        return new DomainPlan.DiskSource.File(
            hypervisor.cloneVolume(pool, disk.clone.volume, volume, linked).path());
      } catch (HypervisorException e) {
        if (e.failure() == HypervisorException.Failure.NotFound) {
          throw volumeNotFound(disk, disk.clone.volume, domainName, "host " + hostName);
        }
        throw e;
      }
    }
    if (disk.blank != null) {
      long size = VmPlanner.bytes(disk.blank.size);
      if (hypervisor.findVolume(pool, volume).isEmpty()) {
        long available = hypervisor.findPool(pool).map(p -> p.availableBytes()).orElse(0L);
        requireSpace(disk, domainName, size, available, "on host " + hostName);
      }
      return new DomainPlan.DiskSource.File(
          hypervisor.ensureVolume(pool, volume, VmPlanner.bytes(disk.blank.size), "qcow2").path());
    }
    return new DomainPlan.DiskSource.File(
        hypervisor
            .findVolume(pool, volume)
            .orElseThrow(() -> volumeNotFound(disk, volume, domainName, hostName))
            .path());
  }

  private DomainPlan.DiskSource nativeNfsDisk(
      StorageDomain domain, VirtualMachineSpec.Disk disk, String volume)
      throws ProvisioningException {
    var nfs = domain.getSpec().getNfs();
    try {
      if (disk.clone != null) {
        if (nfsVolumes.find(nfs.getServer(), nfs.getPath(), disk.clone.volume).isEmpty()) {
          throw volumeNotFound(
              disk, disk.clone.volume, domain.getMetadata().getName(), "the export");
        }
        nfsVolumes.ensureClone(
            nfs.getServer(),
            nfs.getPath(),
            disk.clone.volume,
            volume,
            disk.clone.mode != VirtualMachineSpec.CloneMode.Full);
      } else if (disk.blank != null) {
        long size = VmPlanner.bytes(disk.blank.size);
        if (nfsVolumes.find(nfs.getServer(), nfs.getPath(), volume).isEmpty()
            && domain.getStatus() != null
            && domain.getStatus().getAvailable() != null) {
          requireSpace(
              disk,
              domain.getMetadata().getName(),
              size,
              VmPlanner.bytes(domain.getStatus().getAvailable().toString()),
              "on the export");
        }
        nfsVolumes.ensure(nfs.getServer(), nfs.getPath(), volume, size);
      } else if (nfsVolumes.find(nfs.getServer(), nfs.getPath(), volume).isEmpty()) {
        throw volumeNotFound(disk, volume, domain.getMetadata().getName(), "the export");
      }
    } catch (java.io.IOException e) {
      throw new ProvisioningException(
          "VolumeProvisioningFailed", "disk " + disk.name + ": " + e.getMessage());
    }
    String path =
        nfs.getPath().endsWith("/") ? nfs.getPath() + volume : nfs.getPath() + "/" + volume;
    return new DomainPlan.DiskSource.Nfs(nfs.getServer(), path);
  }

  /** Thin volumes need no space up front, but one that could never be filled is refused. */
  private static void requireSpace(
      VirtualMachineSpec.Disk disk, String domainName, long size, long available, String where)
      throws ProvisioningException {
    if (size > available) {
      throw new ProvisioningException(
          "StorageDomainFull",
          "disk "
              + disk.name
              + ": needs "
              + disk.blank.size
              + " but storage domain "
              + domainName
              + " has "
              + available / (1024 * 1024)
              + "Mi available "
              + where);
    }
  }

  private static ProvisioningException volumeNotFound(
      VirtualMachineSpec.Disk disk, String volume, String domainName, String where) {
    return new ProvisioningException(
        disk.iso != null ? "IsoNotFound" : "VolumeNotFound",
        "disk "
            + disk.name
            + ": no volume "
            + volume
            + " in storage domain "
            + domainName
            + " on "
            + where);
  }

  /** Blank and cloned volumes are the VM's own; images and ISOs are only borrowed. */
  static boolean ownsVolume(VirtualMachineSpec.Disk disk) {
    return disk.blank != null || disk.clone != null;
  }

  private StorageDomain usableDomain(
      String domainName, String hostName, StorageContent needed, String disk)
      throws ProvisioningException {
    StorageDomain domain =
        storageDomains
            .apply(domainName)
            .orElseThrow(
                () ->
                    new ProvisioningException(
                        "StorageDomainNotFound",
                        "disk " + disk + ": StorageDomain " + domainName + " does not exist"));
    if (domain.getSpec().getContent() == null || !domain.getSpec().getContent().contains(needed)) {
      throw new ProvisioningException(
          "StorageContentMismatch",
          "disk " + disk + ": StorageDomain " + domainName + " does not hold " + needed);
    }
    boolean attached =
        domain.getStatus() != null
            && domain.getStatus().getHosts().stream()
                .anyMatch(h -> hostName.equals(h.getHostName()) && h.isAttached());
    if (!attached) {
      throw new ProvisioningException(
          "StorageDomainNotReady",
          "disk "
              + disk
              + ": StorageDomain "
              + domainName
              + " is not attached to host "
              + hostName);
    }
    return domain;
  }

  void deleteOwnVolume(VirtualMachine vm, VirtualMachineSpec.Disk disk, Hypervisor hypervisor)
      throws HypervisorException {
    String volume =
        VmIdentity.volumeName(
            vm.getMetadata().getNamespace(), vm.getMetadata().getName(), disk.name);
    Optional<StorageDomain> domain = storageDomains.apply(VmPlanner.storageDomainOf(disk));
    if (domain.isPresent() && StoragePlanner.isNative(domain.get().getSpec())) {
      var nfs = domain.get().getSpec().getNfs();
      try {
        nfsVolumes.delete(nfs.getServer(), nfs.getPath(), volume);
      } catch (io.bastida.storage.nfs.NfsException e) {
        throw new HypervisorException(
            HypervisorException.Failure.OperationFailed,
            "delete nfs://"
                + nfs.getServer()
                + nfs.getPath()
                + "/"
                + volume
                + ": "
                + e.getMessage(),
            e);
      }
      return;
    }
    hypervisor.deleteVolume(StoragePlanner.poolName(VmPlanner.storageDomainOf(disk)), volume);
  }

  /** Every seed image this VM ever had, on every domain it could have used. */
  void deleteCloudInitSeeds(VirtualMachine vm, Hypervisor hypervisor) throws HypervisorException {
    var domains = new java.util.LinkedHashSet<String>();
    if (vm.getSpec().cloudInit != null && vm.getSpec().cloudInit.storageDomainName != null) {
      domains.add(vm.getSpec().cloudInit.storageDomainName);
    }
    vm.getSpec().disks.stream().findFirst().map(VmPlanner::storageDomainOf).ifPresent(domains::add);
    for (String name : domains) {
      Optional<StorageDomain> domain = storageDomains.apply(name);
      if (domain.isEmpty()) {
        continue;
      }
      if (StoragePlanner.isNative(domain.get().getSpec())) {
        var nfs = domain.get().getSpec().getNfs();
        try {
          for (String file : nfsVolumes.list(nfs.getServer(), nfs.getPath())) {
            if (file.startsWith(seedPrefix(vm))) {
              nfsVolumes.delete(nfs.getServer(), nfs.getPath(), file);
            }
          }
        } catch (io.bastida.storage.nfs.NfsException e) {
          throw new HypervisorException(
              HypervisorException.Failure.OperationFailed,
              "delete cloud-init seeds: " + e.getMessage(),
              e);
        }
      } else {
        String pool = StoragePlanner.poolName(name);
        for (String volume : hypervisor.volumesWithPrefix(pool, seedPrefix(vm))) {
          hypervisor.deleteVolume(pool, volume);
        }
      }
    }
  }
}
