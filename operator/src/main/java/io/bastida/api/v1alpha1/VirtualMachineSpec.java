package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a VM should be. The nested types are plain data holders with public fields: there are many
 * of them and they carry no behaviour.
 */
@ValidationRule(
    value =
        "!has(self.disks) || !has(self.interfaces) || self.disks.all(d, !has(d.bootOrder)"
            + " || !self.interfaces.exists(i, has(i.bootOrder) && i.bootOrder == d.bootOrder))",
    message = "a disk and an interface have the same bootOrder: boot orders must be unique")
// OVMF with 128Mi stops at an invalid-opcode exception before the kernel runs; 160Mi boots a
// minimal guest (measured under TCG), so 256Mi leaves room without being arbitrary.
@ValidationRule(
    value =
        "!has(self.firmware) || self.firmware != 'UEFI' || !isQuantity(self.memory.size)"
            + " || quantity(self.memory.size).compareTo(quantity('256Mi')) >= 0",
    fieldPath = ".memory.size",
    message = "UEFI firmware needs at least 256Mi of memory")
public class VirtualMachineSpec {
  @Default("Always")
  @JsonPropertyDescription(
      "Always, RerunOnFailure, Halted, Manual or Once (KubeVirt's meanings). Default Always.")
  public RunStrategy runStrategy;

  @Default("false")
  @JsonPropertyDescription("Pause the running VM (its vCPUs stop; memory stays).")
  public boolean paused;

  @Size(max = 64)
  @JsonPropertyDescription(
      "Set to a new value (e.g. the current time) to restart the VM once: gracefully, then by"
          + " force after terminationGracePeriodSeconds.")
  public String restartRequestedAt;

  @Required public Cpu cpu;

  @Required public Memory memory;

  @Default("BIOS")
  @JsonPropertyDescription("BIOS or UEFI.")
  public Firmware firmware;

  @Size(max = 16)
  @ValidationRule(
      value = "self.all(d, self.exists_one(e, e.name == d.name))",
      message = "disk names must be unique")
  @ValidationRule(
      value =
          "self.all(d, !has(d.bootOrder)"
              + " || self.exists_one(e, has(e.bootOrder) && e.bootOrder == d.bootOrder))",
      message = "two disks have the same bootOrder: boot orders must be unique")
  public List<Disk> disks = new ArrayList<>();

  @Size(max = 8)
  @ValidationRule(
      value = "self.all(i, self.exists_one(j, j.name == i.name))",
      message = "interface names must be unique")
  @ValidationRule(
      value =
          "self.all(i, !has(i.macAddress)"
              + " || self.exists_one(j, has(j.macAddress) && j.macAddress == i.macAddress))",
      message = "two interfaces have the same macAddress")
  public List<NetworkInterface> interfaces = new ArrayList<>();

  @JsonPropertyDescription("Boot a kernel and initrd found on the host instead of a disk.")
  public KernelBoot kernelBoot;

  @JsonPropertyDescription(
      "cloud-init NoCloud data, given to the guest on a generated read-only CD-ROM (cidata).")
  public CloudInit cloudInit;

  @JsonPropertyDescription("A graphical console; omit for a headless VM (serial console only).")
  public Graphics graphics;

  @Default("true")
  @JsonPropertyDescription("Add the QEMU guest agent channel (IP addresses, hostname, freeze).")
  public Boolean guestAgent;

  @JsonPropertyDescription("Only Hosts with all these labels may run the VM.")
  public Map<String, String> hostSelector;

  @Size(max = 253)
  @JsonPropertyDescription("Pin the VM to this Host.")
  public String hostName;

  @Size(max = 8)
  @JsonPropertyDescription("Keep this VM away from other VMs, by their labels.")
  public List<AntiAffinity> antiAffinity = new ArrayList<>();

  @Default("LiveMigrate")
  @JsonPropertyDescription(
      "What to do when its host goes into maintenance: LiveMigrate, Shutdown or None.")
  public EvictionStrategy evictionStrategy;

  @Default("60")
  @Min(0)
  @Max(3600)
  @JsonPropertyDescription("How long a graceful shutdown may take before the VM is forced off.")
  public Integer terminationGracePeriodSeconds;

  public enum Firmware {
    BIOS,
    UEFI
  }

  public enum EvictionStrategy {
    LiveMigrate,
    Shutdown,
    None
  }

  public static class Cpu {
    @Default("1")
    @Min(1)
    @Max(64)
    public Integer cores;

    @Default("1")
    @Min(1)
    @Max(16)
    @JsonPropertyDescription("Sockets now; vCPUs = sockets x cores x threads.")
    public Integer sockets;

    @Default("1")
    @Min(1)
    @Max(2)
    public Integer threads;

    @Min(1)
    @Max(16)
    @JsonPropertyDescription(
        "Sockets the VM may grow to while running (vCPU hotplug); defaults to sockets.")
    public Integer maxSockets;

    @Size(max = 64)
    @Pattern("^[A-Za-z0-9_.-]+$")
    @JsonPropertyDescription(
        "host-model, host-passthrough or a libvirt CPU model name; default lets the hypervisor"
            + " choose (portable across hosts).")
    public String model;
  }

  // Quantities are strings here, bounded in length: CEL rules over unbounded values exceed the
  // API server's cost budget.
  @ValidationRule(
      value =
          "!has(self.max) || !isQuantity(self.max) || !isQuantity(self.size)"
              + " || quantity(self.max).compareTo(quantity(self.size)) >= 0",
      message = "max must not be less than size")
  public static class Memory {
    @Required
    @Size(max = 32)
    @ValidationRule(
        value =
            "isQuantity(self) && quantity(self).compareTo(quantity('96Mi')) >= 0"
                + " && quantity(self).compareTo(quantity('1Ti')) <= 0",
        message = "must be a quantity between 96Mi and 1Ti (e.g. 512Mi, 4Gi)")
    @JsonPropertyDescription("Guest memory now, e.g. 2Gi.")
    public String size;

    @Size(max = 32)
    @ValidationRule(
        value =
            "isQuantity(self) && quantity(self).compareTo(quantity('96Mi')) >= 0"
                + " && quantity(self).compareTo(quantity('1Ti')) <= 0",
        message = "must be a quantity between 96Mi and 1Ti")
    @JsonPropertyDescription("Memory the VM may grow to while running; defaults to size.")
    public String max;
  }

  public enum Bus {
    virtio,
    sata,
    scsi
  }

  public enum DeletionPolicy {
    Delete,
    Retain
  }

  @ValidationRule(
      value =
          "[has(self.blank), has(self.clone), has(self.image), has(self.iso)].filter(x, x).size()"
              + " == 1",
      message = "a disk needs exactly one source: blank, clone, image or iso")
  public static class Disk {
    @Required
    @Size(min = 1, max = 63)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    public String name;

    @Default("virtio")
    public Bus bus;

    @Min(1)
    @Max(99)
    public Integer bootOrder;

    @JsonPropertyDescription("A new, empty thin qcow2 volume.")
    public BlankVolume blank;

    @JsonPropertyDescription(
        "A new volume made from a template volume in the same storage domain: Linked (a thin"
            + " overlay on the template, instant) or Full (an independent copy).")
    public CloneSource clone;

    @JsonPropertyDescription("An existing volume used as the disk itself (never deleted).")
    public VolumeRef image;

    @JsonPropertyDescription("An ISO image, attached as a read-only CD-ROM.")
    public VolumeRef iso;

    @Default("Delete")
    @JsonPropertyDescription(
        "What happens to a blank or cloned volume when the VM is deleted: Delete or Retain.")
    public DeletionPolicy deletionPolicy;
  }

  public static class BlankVolume {
    @Required
    @Size(min = 1, max = 253)
    public String storageDomainName;

    @Required
    @Size(max = 32)
    @ValidationRule(
        value =
            "isQuantity(self) && quantity(self).compareTo(quantity('1Mi')) >= 0"
                + " && quantity(self).compareTo(quantity('64Ti')) <= 0",
        message = "must be a quantity between 1Mi and 64Ti (e.g. 20Gi)")
    public String size;
  }

  public enum CloneMode {
    Linked,
    Full
  }

  public static class CloneSource {
    @Required
    @Size(min = 1, max = 253)
    public String storageDomainName;

    @Required
    @Size(min = 1, max = 255)
    @Pattern("^[A-Za-z0-9][A-Za-z0-9._-]*$")
    @JsonPropertyDescription("The template volume (qcow2) in that storage domain.")
    public String volume;

    @Default("Linked")
    public CloneMode mode;
  }

  public static class VolumeRef {
    @Required
    @Size(min = 1, max = 253)
    public String storageDomainName;

    @Required
    @Size(min = 1, max = 255)
    @Pattern("^[A-Za-z0-9][A-Za-z0-9._-]*$")
    @JsonPropertyDescription("File name of the volume in the storage domain.")
    public String volume;
  }

  public enum NicModel {
    virtio,
    e1000,
    rtl8139
  }

  @ValidationRule(
      value =
          "[has(self.bridge), has(self.network), has(self.pciPassthrough)].filter(x, x).size() == 1",
      message = "an interface needs exactly one of bridge, network or pciPassthrough")
  public static class NetworkInterface {
    @Required
    @Size(min = 1, max = 63)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    public String name;

    @Default("virtio")
    public NicModel model;

    @Size(max = 15)
    @Pattern("^[A-Za-z0-9_.-]+$")
    @JsonPropertyDescription("A bridge on the host, e.g. br0.")
    public String bridge;

    @Size(max = 64)
    @Pattern("^[A-Za-z0-9_.-]+$")
    @JsonPropertyDescription("A libvirt network on the host, e.g. default.")
    public String network;

    @Size(max = 17)
    @Pattern("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
    @ValidationRule(
        value = "self.substring(1, 2).lowerAscii() in ['0', '2', '4', '6', '8', 'a', 'c', 'e']",
        message = "must be a unicast MAC address (the first octet must be even)")
    @JsonPropertyDescription("Fixed MAC address; default is derived from the VM, stable forever.")
    public String macAddress;

    @Min(1)
    @Max(99)
    public Integer bootOrder;

    @JsonPropertyDescription(
        "Give the guest a host PCI network device instead; the VM can then not live-migrate.")
    public PciPassthrough pciPassthrough;
  }

  public static class PciPassthrough {
    @Required
    @Size(max = 12)
    @Pattern("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}[.][0-7]$")
    @JsonPropertyDescription(
        "PCI address on the host, domain:bus:slot.function, e.g. 0000:03:00.0.")
    public String address;
  }

  public static class KernelBoot {
    @Required
    @Size(min = 2, max = 1024)
    @Pattern("^/")
    public String kernel;

    @Size(min = 2, max = 1024)
    @Pattern("^/")
    public String initrd;

    @Size(max = 2048)
    public String cmdline;
  }

  public static class CloudInit {
    @Size(max = 65536)
    @JsonPropertyDescription("user-data, e.g. a #cloud-config document.")
    public String userData;

    @Size(max = 65536)
    @JsonPropertyDescription("network-config (version 1 or 2).")
    public String networkData;

    @Size(max = 253)
    @JsonPropertyDescription("Where the seed image goes; defaults to the first disk's domain.")
    public String storageDomainName;
  }

  public enum GraphicsType {
    VNC,
    SPICE
  }

  public static class Graphics {
    @Required public GraphicsType type;
  }

  public enum AntiAffinityType {
    Required,
    Preferred
  }

  public static class AntiAffinity {
    @Required
    @JsonPropertyDescription("Other VMs (same namespace) with all these labels.")
    public Map<String, String> matchLabels;

    @Default("Required")
    public AntiAffinityType type;
  }
}
