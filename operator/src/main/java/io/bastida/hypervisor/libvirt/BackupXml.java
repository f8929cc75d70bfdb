package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.DomainDisks;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.hypervisor.PushBackupRequest;
import io.bastida.xml.SafeXml;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Writes the definitions of backup jobs ({@code <domainbackup>}, pull or push) and of the
 * checkpoint one starts ({@code <domaincheckpoint>}), and reads where a pull job serves its disks.
 */
final class BackupXml {
  /** The QEMU driver's own directory on every host: it exists and QEMU may write there. */
  static final String SCRATCH_DIRECTORY = "/var/lib/libvirt/qemu";

  private static final String DIRTY_BITMAP_CONTEXT = "qemu:dirty-bitmap:";

  private BackupXml() {}

  /**
   * The backup job's definition: the requested disks exported over NBD on TCP, the domain's other
   * disks left out. Each exported disk gets a scratch file of its own, named after the domain, the
   * disk and {@code jobStamp}: libvirt cannot make one itself for network (NFS) disks, and deletes
   * it when the job ends.
   *
   * @throws IllegalArgumentException when the domain lacks a requested disk
   */
  static String pullBackup(
      String domainName, String domainXml, PullBackupRequest request, long jobStamp) {
    Set<String> backedUp = requireDisks(domainXml, request.diskTargets());
    Document doc = SafeXml.newDocument();
    Element root = doc.createElement("domainbackup");
    root.setAttribute("mode", "pull");
    doc.appendChild(root);
    if (request.incrementalFromCheckpoint() != null) {
      append(root, "incremental").setTextContent(request.incrementalFromCheckpoint());
    }
    Element server = append(root, "server");
    server.setAttribute("transport", "tcp");
    server.setAttribute("name", request.listenAddress());
    server.setAttribute("port", Integer.toString(request.port()));
    Element disks = append(root, "disks");
    for (String target : diskTargets(domainXml)) {
      Element disk = append(disks, "disk");
      disk.setAttribute("name", target);
      if (backedUp.contains(target)) {
        disk.setAttribute("backup", "yes");
        disk.setAttribute("type", "file");
        append(disk, "scratch").setAttribute("file", scratchFile(domainName, target, jobStamp));
      } else {
        disk.setAttribute("backup", "no");
      }
    }
    return SafeXml.serialize(doc);
  }

  /**
   * A push-mode job's definition: QEMU writes each requested disk into its existing qcow2 image on
   * the host (only the changes since the checkpoint for an incremental); other disks are left out.
   *
   * @throws IllegalArgumentException when the domain lacks a requested disk
   */
  static String pushBackup(String domainXml, PushBackupRequest request) {
    Set<String> backedUp =
        requireDisks(domainXml, List.copyOf(request.targetImageByDisk().keySet()));
    Document doc = SafeXml.newDocument();
    Element root = doc.createElement("domainbackup");
    root.setAttribute("mode", "push");
    doc.appendChild(root);
    if (request.incrementalFromCheckpoint() != null) {
      append(root, "incremental").setTextContent(request.incrementalFromCheckpoint());
    }
    Element disks = append(root, "disks");
    for (String target : diskTargets(domainXml)) {
      Element disk = append(disks, "disk");
      disk.setAttribute("name", target);
      if (backedUp.contains(target)) {
        disk.setAttribute("backup", "yes");
        disk.setAttribute("type", "file");
        append(disk, "target").setAttribute("file", request.targetImageByDisk().get(target));
        append(disk, "driver").setAttribute("type", "qcow2");
      } else {
        disk.setAttribute("backup", "no");
      }
    }
    return SafeXml.serialize(doc);
  }

  /**
   * A checkpoint tracking changes (a dirty bitmap) on the requested disks only.
   *
   * @throws IllegalArgumentException when the domain lacks a requested disk
   */
  static String checkpoint(String domainXml, List<String> diskTargets, String name) {
    Set<String> tracked = requireDisks(domainXml, diskTargets);
    Document doc = SafeXml.newDocument();
    Element root = doc.createElement("domaincheckpoint");
    doc.appendChild(root);
    append(root, "name").setTextContent(name);
    Element disks = append(root, "disks");
    for (String target : diskTargets(domainXml)) {
      Element disk = append(disks, "disk");
      disk.setAttribute("name", target);
      disk.setAttribute("checkpoint", tracked.contains(target) ? "bitmap" : "no");
    }
    return SafeXml.serialize(doc);
  }

  /**
   * Where the running job described by {@code virDomainBackupGetXMLDesc} serves its disks.
   *
   * @throws IllegalArgumentException when it is not a pull-mode backup over TCP
   */
  static BackupExport readExport(String backupXml) {
    Element root = SafeXml.parse(backupXml).getDocumentElement();
    Element server = first(root, "server");
    if (!"pull".equals(root.getAttribute("mode"))
        || server == null
        || !"tcp".equals(server.getAttribute("transport"))) {
      throw new IllegalArgumentException("the backup job is not a pull-mode backup over TCP");
    }
    Map<String, String> exports = new HashMap<>();
    Map<String, String> bitmaps = new HashMap<>();
    NodeList disks = root.getElementsByTagName("disk");
    for (int i = 0; i < disks.getLength(); i++) {
      Element disk = (Element) disks.item(i);
      if ("no".equals(disk.getAttribute("backup"))) {
        continue;
      }
      String name = disk.getAttribute("name");
      // libvirt names the export after the disk unless told otherwise.
      String export = disk.getAttribute("exportname");
      exports.put(name, export.isEmpty() ? name : export);
      String bitmap = disk.getAttribute("exportbitmap");
      if (!bitmap.isEmpty()) {
        bitmaps.put(name, DIRTY_BITMAP_CONTEXT + bitmap);
      }
    }
    return new BackupExport(
        server.getAttribute("name"),
        Integer.parseInt(server.getAttribute("port")),
        exports,
        bitmaps);
  }

  /**
   * Whether the running job described by {@code backupXml} does what the request asks: a pull over
   * TCP at the same address, of the same disks, from the same checkpoint.
   */
  static boolean isJobFor(String backupXml, PullBackupRequest request) {
    BackupExport export;
    try {
      export = readExport(backupXml);
    } catch (IllegalArgumentException notAPullOverTcp) {
      return false;
    }
    Element incremental = first(SafeXml.parse(backupXml).getDocumentElement(), "incremental");
    String fromCheckpoint = incremental == null ? null : incremental.getTextContent().trim();
    return export.host().equals(request.listenAddress())
        && export.port() == request.port()
        && export.exportByDisk().keySet().equals(Set.copyOf(request.diskTargets()))
        && Objects.equals(fromCheckpoint, request.incrementalFromCheckpoint());
  }

  /** A path that no other job's scratch file has: domain, disk and the job's stamp. */
  static String scratchFile(String domainName, String diskTarget, long jobStamp) {
    return SCRATCH_DIRECTORY
        + "/bastida-scratch-"
        + fileNamePart(domainName)
        + "-"
        + fileNamePart(diskTarget)
        + "-"
        + jobStamp
        + ".qcow2";
  }

  /** Target names of the domain's disks, in document order. */
  private static List<String> diskTargets(String domainXml) {
    return DomainDisks.of(domainXml).stream().map(DomainDisks.Disk::target).toList();
  }

  private static Set<String> requireDisks(String domainXml, List<String> requested) {
    if (requested.isEmpty()) {
      throw new IllegalArgumentException("no disk to back up");
    }
    List<String> present = diskTargets(domainXml);
    Set<String> wanted = new LinkedHashSet<>(requested);
    if (!present.containsAll(wanted)) {
      throw new IllegalArgumentException(
          "the domain has disks " + present + ", not all of " + requested);
    }
    return wanted;
  }

  // Domain names may hold characters a file name should not (libvirt allows most).
  private static String fileNamePart(String name) {
    return name.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  private static Element append(Element parent, String tag) {
    Element element = parent.getOwnerDocument().createElement(tag);
    parent.appendChild(element);
    return element;
  }

  private static Element first(Element parent, String tag) {
    NodeList found = parent.getElementsByTagName(tag);
    return found.getLength() == 0 ? null : (Element) found.item(0);
  }
}
