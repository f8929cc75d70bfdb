package io.bastida.operator.vm.domain;

import io.bastida.operator.vm.domain.DomainPlan.Bus;
import io.bastida.operator.vm.domain.DomainPlan.Cpu;
import io.bastida.operator.vm.domain.DomainPlan.Disk;
import io.bastida.operator.vm.domain.DomainPlan.DiskSource;
import io.bastida.operator.vm.domain.DomainPlan.Graphics;
import io.bastida.operator.vm.domain.DomainPlan.KernelBoot;
import io.bastida.operator.vm.domain.DomainPlan.Nic;
import io.bastida.operator.vm.domain.DomainPlan.Owner;
import io.bastida.operator.vm.domain.DomainPlan.PciDevice;
import io.bastida.xml.SafeXml;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Renders libvirt domain XML (x86_64, q35) from a {@link DomainPlan} with a DOM, so no value can
 * break out of its element, and reads Bastida's ownership metadata back from a domain's XML.
 */
public final class DomainXml {
  private DomainXml() {}

  public static String render(DomainPlan plan) {
    Document doc = SafeXml.newDocument();
    Element domain = doc.createElement("domain");
    doc.appendChild(domain);
    domain.setAttribute("type", plan.type());
    text(domain, "name", plan.name());
    text(domain, "uuid", plan.uuid().toString());
    text(domain, "title", plan.owner().namespace() + "/" + plan.owner().name());
    metadata(domain, plan.owner());
    // memory is the ceiling fixed at start; the balloon moves the guest between it and current.
    text(domain, "memory", Long.toString(plan.maxMemoryMiB())).setAttribute("unit", "MiB");
    text(domain, "currentMemory", Long.toString(plan.memoryMiB())).setAttribute("unit", "MiB");
    Element vcpu = text(domain, "vcpu", Integer.toString(plan.cpu().maximum()));
    vcpu.setAttribute("placement", "static");
    vcpu.setAttribute("current", Integer.toString(plan.cpu().current()));
    os(domain, plan);
    Element features = append(domain, "features");
    // ACPI lets a shutdown request reach the guest as a power button press.
    append(features, "acpi");
    append(features, "apic");
    cpu(domain, plan.cpu());
    text(domain, "on_poweroff", "destroy");
    text(domain, "on_reboot", "restart");
    text(domain, "on_crash", "destroy");
    devices(domain, plan);
    return SafeXml.serialize(doc);
  }

  /**
   * The VirtualMachine that owns a domain, read from Bastida's metadata element; empty for a domain
   * Bastida did not define.
   *
   * @throws IllegalArgumentException when the text is not well-formed XML or has a DOCTYPE
   */
  public static Optional<Owner> ownerOf(String domainXml) {
    Element root = SafeXml.parse(domainXml).getDocumentElement();
    if (!"domain".equals(root.getLocalName())) {
      return Optional.empty();
    }
    for (Element metadata : children(root, null, "metadata")) {
      for (Element vm : children(metadata, DomainPlan.METADATA_NAMESPACE, "vm")) {
        String namespace = vm.getAttribute("namespace");
        String name = vm.getAttribute("name");
        String uid = vm.getAttribute("uid");
        if (!namespace.isEmpty() && !name.isEmpty() && !uid.isEmpty()) {
          return Optional.of(new Owner(namespace, name, uid));
        }
      }
    }
    return Optional.empty();
  }

  /** The domain's type ({@code kvm}, {@code qemu}, {@code test}) as its XML says. */
  public static String typeOf(String domainXml) {
    return SafeXml.parse(domainXml).getDocumentElement().getAttribute("type");
  }

  private static void metadata(Element domain, Owner owner) {
    Element metadata = append(domain, "metadata");
    Element vm =
        domain.getOwnerDocument().createElementNS(DomainPlan.METADATA_NAMESPACE, "bastida:vm");
    vm.setAttribute("namespace", owner.namespace());
    vm.setAttribute("name", owner.name());
    vm.setAttribute("uid", owner.uid());
    metadata.appendChild(vm);
  }

  private static void os(Element domain, DomainPlan plan) {
    Element os = append(domain, "os");
    if (plan.firmware() == DomainPlan.Firmware.UEFI) {
      // libvirt picks the firmware image and its NVRAM template from the host's descriptors.
      os.setAttribute("firmware", "efi");
    }
    if (plan.firmware() == DomainPlan.Firmware.UEFI) {
      // Without this, autoselection prefers the Secure Boot image with enrolled keys, which
      // boots neither a directly loaded kernel nor an unsigned loader (measured with OVMF).
      Element feature = append(append(os, "firmware"), "feature");
      feature.setAttribute("enabled", "no");
      feature.setAttribute("name", "secure-boot");
    }
    Element type = text(os, "type", "hvm");
    type.setAttribute("arch", "x86_64");
    type.setAttribute("machine", "q35");
    KernelBoot kernel = plan.kernelBoot();
    if (kernel != null) {
      text(os, "kernel", kernel.kernel());
      if (kernel.initrd() != null) {
        text(os, "initrd", kernel.initrd());
      }
      if (kernel.cmdline() != null) {
        text(os, "cmdline", kernel.cmdline());
      }
    }
    // No <boot dev>: boot order is per device, and libvirt refuses both in one domain.
  }

  private static void cpu(Element domain, Cpu cpu) {
    Element element = append(domain, "cpu");
    if ("host-model".equals(cpu.model()) || "host-passthrough".equals(cpu.model())) {
      element.setAttribute("mode", cpu.model());
    } else if (cpu.model() != null) {
      element.setAttribute("mode", "custom");
      element.setAttribute("match", "exact");
      // forbid: a guest must not start with fewer features than its model promises.
      text(element, "model", cpu.model()).setAttribute("fallback", "forbid");
    }
    Element topology = append(element, "topology");
    topology.setAttribute("sockets", Integer.toString(cpu.sockets()));
    topology.setAttribute("cores", Integer.toString(cpu.cores()));
    topology.setAttribute("threads", Integer.toString(cpu.threads()));
  }

  private static void devices(Element domain, DomainPlan plan) {
    Element devices = append(domain, "devices");
    for (Disk disk : plan.disks()) {
      disk(devices, disk);
    }
    if (plan.disks().stream().anyMatch(disk -> disk.bus() == Bus.scsi)) {
      Element controller = append(devices, "controller");
      controller.setAttribute("type", "scsi");
      controller.setAttribute("model", "virtio-scsi");
    }
    for (Nic nic : plan.nics()) {
      nic(devices, nic);
    }
    for (PciDevice device : plan.hostDevices()) {
      hostdev(devices, device);
    }
    Element serial = append(devices, "serial");
    serial.setAttribute("type", "pty");
    if (plan.serialLogPath() != null) {
      Element log = append(serial, "log");
      log.setAttribute("file", plan.serialLogPath());
      log.setAttribute("append", "off");
    }
    Element console = append(devices, "console");
    console.setAttribute("type", "pty");
    append(console, "target").setAttribute("type", "serial");
    if (plan.guestAgentChannel()) {
      Element channel = append(devices, "channel");
      channel.setAttribute("type", "unix");
      Element target = append(channel, "target");
      target.setAttribute("type", "virtio");
      target.setAttribute("name", "org.qemu.guest_agent.0");
    }
    if (plan.graphics() != null) {
      graphics(devices, plan.graphics());
    }
    append(devices, "memballoon").setAttribute("model", "virtio");
    Element rng = append(devices, "rng");
    rng.setAttribute("model", "virtio");
    text(rng, "backend", "/dev/urandom").setAttribute("model", "random");
    // pvpanic: a guest kernel panic stops the domain as crashed (on_crash), so RerunOnFailure
    // can tell a crash from a shutdown instead of waiting on a hung guest.
    append(devices, "panic").setAttribute("model", "isa");
  }

  private static void disk(Element devices, Disk disk) {
    Element element = append(devices, "disk");
    element.setAttribute("device", disk.cdrom() ? "cdrom" : "disk");
    Element driver = append(element, "driver");
    driver.setAttribute("name", "qemu");
    driver.setAttribute("type", disk.format());
    Element source = append(element, "source");
    if (disk.source() instanceof DiskSource.Nfs nfs) {
      element.setAttribute("type", "network");
      source.setAttribute("protocol", "nfs");
      source.setAttribute("name", nfs.path());
      append(source, "host").setAttribute("name", nfs.server());
      // libnfs would present QEMU's own uid (libvirt-qemu), which the export denies: measured.
      Element identity = append(source, "identity");
      identity.setAttribute("user", "root");
      identity.setAttribute("group", "root");
    } else {
      element.setAttribute("type", "file");
      source.setAttribute("file", ((DiskSource.File) disk.source()).path());
    }
    Element target = append(element, "target");
    target.setAttribute("dev", disk.target());
    target.setAttribute("bus", disk.bus().name());
    if (disk.cdrom() || disk.readOnly()) {
      append(element, "readonly");
    }
    bootOrder(element, disk.bootOrder());
  }

  private static void nic(Element devices, Nic nic) {
    Element element = append(devices, "interface");
    append(element, "mac").setAttribute("address", nic.mac());
    Element source = append(element, "source");
    if (nic.bridge() != null) {
      element.setAttribute("type", "bridge");
      source.setAttribute("bridge", nic.bridge());
    } else {
      element.setAttribute("type", "network");
      source.setAttribute("network", nic.network());
    }
    append(element, "model").setAttribute("type", nic.model());
    bootOrder(element, nic.bootOrder());
  }

  private static void hostdev(Element devices, PciDevice device) {
    Element hostdev = append(devices, "hostdev");
    hostdev.setAttribute("mode", "subsystem");
    hostdev.setAttribute("type", "pci");
    // managed: libvirt unbinds the device from its host driver and binds it back afterwards.
    hostdev.setAttribute("managed", "yes");
    Element address = append(append(hostdev, "source"), "address");
    address.setAttribute("domain", String.format("0x%04x", device.domain()));
    address.setAttribute("bus", String.format("0x%02x", device.bus()));
    address.setAttribute("slot", String.format("0x%02x", device.slot()));
    address.setAttribute("function", String.format("0x%x", device.function()));
  }

  private static void graphics(Element devices, Graphics graphics) {
    Element element = append(devices, "graphics");
    element.setAttribute("type", graphics.type());
    element.setAttribute("autoport", "yes");
    element.setAttribute("listen", graphics.listen());
    Element listen = append(element, "listen");
    listen.setAttribute("type", "address");
    listen.setAttribute("address", graphics.listen());
    append(append(devices, "video"), "model").setAttribute("type", "virtio");
  }

  private static void bootOrder(Element device, Integer order) {
    if (order != null) {
      append(device, "boot").setAttribute("order", order.toString());
    }
  }

  private static Element text(Element parent, String name, String value) {
    Element child = append(parent, name);
    child.setTextContent(value);
    return child;
  }

  private static Element append(Element parent, String name) {
    Element child = parent.getOwnerDocument().createElement(name);
    parent.appendChild(child);
    return child;
  }

  private static List<Element> children(Element parent, String namespace, String localName) {
    List<Element> matches = new ArrayList<>();
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element
          && localName.equals(element.getLocalName())
          && Objects.equals(namespace, element.getNamespaceURI())) {
        matches.add(element);
      }
    }
    return matches;
  }
}
