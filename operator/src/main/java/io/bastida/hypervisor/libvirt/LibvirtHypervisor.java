package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.BackupExport;
import io.bastida.hypervisor.BackupJobState;
import io.bastida.hypervisor.DomainMetadata;
import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.HostFile;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.MigrationProgress;
import io.bastida.hypervisor.MigrationRequest;
import io.bastida.hypervisor.NodeFacts;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.hypervisor.PoolState;
import io.bastida.hypervisor.PullBackupRequest;
import io.bastida.hypervisor.PushBackupRequest;
import io.bastida.hypervisor.SnapshotInfo;
import io.bastida.hypervisor.VolumeState;
import io.bastida.xml.SafeXml;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;
import javax.xml.xpath.XPathFactory;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainCheckpoint;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.libvirt.StoragePoolInfo;
import org.libvirt.StoragePoolInfo.StoragePoolState;
import org.libvirt.StorageVol;
import org.libvirt.TypedParameter;
import org.libvirt.event.LifecycleListener;
import org.w3c.dom.Document;

/** {@link Hypervisor} over one libvirt-java connection. */
final class LibvirtHypervisor implements Hypervisor {
  /** Opens another connection to the host, with the same URI and credentials. */
  interface Opener {
    Connect open() throws LibvirtException;
  }

  private final String hostName;
  private final Connect connect;
  private final Opener opener;
  private final Path credentialDir;
  private final HostFiles hostFiles;
  private final List<LifecycleListener> lifecycleListeners = new ArrayList<>();
  private volatile boolean closed;

  LibvirtHypervisor(String hostName, Connect connect, Opener opener, Path credentialDir) {
    this.hostName = hostName;
    this.connect = connect;
    this.opener = opener;
    this.credentialDir = credentialDir;
    this.hostFiles = new HostFiles(connect);
  }

  @Override
  public NodeFacts nodeFacts() throws HypervisorException {
    try {
      var info = connect.nodeInfo();
      Document capabilities = SafeXml.parse(connect.getCapabilities());
      var xpath = XPathFactory.newInstance().newXPath();
      String cpuModel = xpath.evaluate("/capabilities/host/cpu/model", capabilities);
      String arch = xpath.evaluate("/capabilities/host/cpu/arch", capabilities);
      int running = connect.numOfDomains();
      return new NodeFacts(
          connect.getHostName(),
          arch.isEmpty() ? info.model : arch,
          cpuModel.isEmpty() ? null : cpuModel,
          info.cpus,
          info.memory * 1024,
          freeMemory(),
          versionString(connect.getLibVirVersion()),
          connect.getType() + " " + versionString(connect.getVersion()),
          running + connect.numOfDefinedDomains(),
          running,
          preferredDomainType(capabilities));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read node facts of " + hostName, e);
    } catch (Exception e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          "cannot read capabilities of " + hostName + ": " + e.getMessage(),
          e);
    }
  }

  /** kvm where the host has it, else qemu (TCG), else whatever the driver offers (test). */
  private static String preferredDomainType(Document capabilities) throws Exception {
    var nodes =
        (org.w3c.dom.NodeList)
            XPathFactory.newInstance()
                .newXPath()
                .evaluate(
                    "/capabilities/guest[arch/@name='x86_64']/arch/domain/@type",
                    capabilities,
                    javax.xml.xpath.XPathConstants.NODESET);
    List<String> types = new ArrayList<>();
    for (int i = 0; i < nodes.getLength(); i++) {
      types.add(nodes.item(i).getNodeValue());
    }
    if (types.contains("kvm")) {
      return "kvm";
    }
    if (types.contains("qemu")) {
      return "qemu";
    }
    return types.isEmpty() ? "qemu" : types.get(0);
  }

  private Long freeMemory() {
    try {
      return connect.getFreeMemory();
    } catch (LibvirtException notSupportedByDriver) {
      return null;
    }
  }

  @Override
  public PoolState ensurePool(PoolDefinition definition) throws HypervisorException {
    try {
      StoragePool pool = lookupPool(definition.name());
      if (pool == null) {
        pool = connect.storagePoolDefineXML(StoragePoolXml.render(definition), 0);
      }
      if (pool.isActive() == 0) {
        try {
          pool.build(0); // creates the directory or mount point when missing
        } catch (LibvirtException alreadyBuilt) {
          // an existing directory is fine; starting the pool reports real problems
        }
        pool.create(0);
      }
      if (!pool.getAutostart()) {
        pool.setAutostart(1);
      }
      pool.refresh(0);
      return stateOf(definition.name(), pool.getInfo());
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("set up storage pool " + definition.name(), e);
    }
  }

  @Override
  public Optional<PoolState> findPool(String name) throws HypervisorException {
    try {
      StoragePool pool = lookupPool(name);
      return pool == null ? Optional.empty() : Optional.of(stateOf(name, pool.getInfo()));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("look up storage pool " + name, e);
    }
  }

  @Override
  public List<String> listVolumes(String poolName) throws HypervisorException {
    try {
      StoragePool pool = lookupPool(poolName);
      if (pool == null || pool.isActive() == 0) {
        return List.of();
      }
      pool.refresh(0);
      return Arrays.stream(pool.listVolumes()).sorted().toList();
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("list volumes of storage pool " + poolName, e);
    }
  }

  @Override
  public void forgetPool(String name) throws HypervisorException {
    try {
      StoragePool pool = lookupPool(name);
      if (pool == null) {
        return;
      }
      if (pool.isActive() != 0) {
        pool.destroy();
      }
      pool.undefine();
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("remove storage pool " + name, e);
    }
  }

  @Override
  public VolumeState ensureVolume(
      String poolName, String volumeName, long capacityBytes, String format)
      throws HypervisorException {
    try {
      StoragePool pool = connect.storagePoolLookupByName(poolName);
      StorageVol existing = lookupVolume(pool, volumeName);
      StorageVol volume =
          existing != null
              ? existing
              : pool.storageVolCreateXML(
                  StorageVolumeXml.render(volumeName, capacityBytes, format), 0);
      return new VolumeState(poolName, volumeName, volume.getPath(), volume.getInfo().capacity);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("create volume " + volumeName + " in pool " + poolName, e);
    }
  }

  @Override
  public VolumeState cloneVolume(
      String poolName, String templateName, String volumeName, boolean linked)
      throws HypervisorException {
    try {
      StoragePool pool = connect.storagePoolLookupByName(poolName);
      StorageVol volume = lookupVolume(pool, volumeName);
      if (volume == null) {
        StorageVol template = lookupVolume(pool, templateName);
        if (template == null) {
          throw new HypervisorException(
              HypervisorException.Failure.NotFound,
              "no template volume " + templateName + " in pool " + poolName);
        }
        long capacity = template.getInfo().capacity;
        volume =
            linked
                ? pool.storageVolCreateXML(
                    StorageVolumeXml.overlay(volumeName, capacity, template.getPath()), 0)
                : pool.storageVolCreateXMLFrom(
                    StorageVolumeXml.render(volumeName, capacity, "qcow2"), template, 0);
      }
      return new VolumeState(poolName, volumeName, volume.getPath(), volume.getInfo().capacity);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("clone volume " + templateName + " in pool " + poolName, e);
    }
  }

  @Override
  public VolumeState uploadVolume(String poolName, String volumeName, byte[] content)
      throws HypervisorException {
    try {
      StoragePool pool = connect.storagePoolLookupByName(poolName);
      StorageVol volume = lookupVolume(pool, volumeName);
      if (volume == null) {
        volume = HostFiles.createHolding(connect, pool, volumeName, content);
      }
      return new VolumeState(poolName, volumeName, volume.getPath(), volume.getInfo().capacity);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("upload volume " + volumeName + " to pool " + poolName, e);
    }
  }

  @Override
  public List<String> volumesWithPrefix(String poolName, String prefix) throws HypervisorException {
    return listVolumes(poolName).stream().filter(v -> v.startsWith(prefix)).toList();
  }

  @Override
  public Optional<VolumeState> findVolume(String poolName, String volumeName)
      throws HypervisorException {
    try {
      StoragePool pool = lookupPool(poolName);
      StorageVol volume = pool == null ? null : lookupVolume(pool, volumeName);
      return volume == null
          ? Optional.empty()
          : Optional.of(
              new VolumeState(poolName, volumeName, volume.getPath(), volume.getInfo().capacity));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("look up volume " + volumeName + " in pool " + poolName, e);
    }
  }

  @Override
  public void deleteVolume(String poolName, String volumeName) throws HypervisorException {
    try {
      StoragePool pool = lookupPool(poolName);
      StorageVol volume = pool == null ? null : lookupVolume(pool, volumeName);
      if (volume != null) {
        volume.delete(0);
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("delete volume " + volumeName + " in pool " + poolName, e);
    }
  }

  @Override
  public Optional<DomainState> findDomain(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      return domain == null ? Optional.empty() : Optional.of(stateOf(domain));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("look up domain " + name, e);
    }
  }

  @Override
  public List<DomainState> listDomains() throws HypervisorException {
    try {
      List<DomainState> states = new ArrayList<>();
      for (Domain domain : connect.listAllDomains(0)) {
        try {
          states.add(stateOf(domain));
        } catch (LibvirtException e) {
          // Gone between the listing and the look (migrated away, undefined): not an error.
          if (e.getError() == null || e.getError().getCode() != ErrorNumber.VIR_ERR_NO_DOMAIN) {
            throw e;
          }
        }
      }
      return states;
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("list domains of " + hostName, e);
    }
  }

  @Override
  public void defineDomain(String xml) throws HypervisorException {
    try {
      connect.domainDefineXML(xml);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("define domain", e);
    }
  }

  @Override
  public void startDomain(String name) throws HypervisorException {
    onDomain(name, "start", Domain::create);
  }

  @Override
  public void startTransientDomain(String xml) throws HypervisorException {
    try {
      connect.domainCreateXML(xml, 0);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("start a transient domain", e);
    }
  }

  @Override
  public Optional<String> guestHostname(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      return domain == null || domain.isActive() == 0
          ? Optional.empty()
          : DomainCalls.hostname(domain);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the hostname of " + name, e);
    }
  }

  @Override
  public Optional<String> graphicsConsole(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      if (domain == null || domain.isActive() == 0) {
        return Optional.empty();
      }
      Document live = SafeXml.parse(domain.getXMLDesc(0));
      var xpath = XPathFactory.newInstance().newXPath();
      String type = xpath.evaluate("/domain/devices/graphics[1]/@type", live);
      String port = xpath.evaluate("/domain/devices/graphics[1]/@port", live);
      if (type.isEmpty() || port.isEmpty() || port.startsWith("-")) {
        return Optional.empty();
      }
      return Optional.of(type + ":" + port);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the console of " + name, e);
    } catch (Exception e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          "cannot read the live definition of " + name + ": " + e.getMessage(),
          e);
    }
  }

  @Override
  public void resizeRunningDomain(String name, long memoryMiB, int vcpus)
      throws HypervisorException {
    onDomain(
        name,
        "resize",
        domain -> {
          var info = domain.getInfo();
          if (info.memory / 1024 != memoryMiB) {
            domain.setMemory(memoryMiB * 1024);
          }
          if (info.nrVirtCpu != vcpus) {
            domain.setVcpusFlags(vcpus, AFFECT_LIVE);
          }
        });
  }

  @Override
  public Map<String, List<String>> guestAddresses(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      if (domain == null) {
        return Map.of();
      }
      Map<String, List<String>> byMac = new TreeMap<>();
      for (var nic : domain.interfaceAddresses(ADDRESSES_FROM_AGENT, 0)) {
        if (nic.hwAddr == null || nic.addrs == null) {
          continue;
        }
        byMac.put(
            nic.hwAddr.toLowerCase(),
            nic.addrs.stream()
                .map(a -> a.address.getHostAddress())
                .filter(ip -> !ip.startsWith("127.") && !ip.equals("::1"))
                .sorted()
                .toList());
      }
      return byMac;
    } catch (LibvirtException e) {
      if (e.getError() != null
          && (e.getError().getCode() == ErrorNumber.VIR_ERR_AGENT_UNRESPONSIVE
              || e.getError().getCode() == ErrorNumber.VIR_ERR_ARGUMENT_UNSUPPORTED
              || e.getError().getCode() == ErrorNumber.VIR_ERR_OPERATION_INVALID)) {
        return Map.of();
      }
      throw LibvirtErrors.classify("read guest addresses of " + name, e);
    }
  }

  @Override
  public void shutdownDomain(String name) throws HypervisorException {
    onDomain(name, "shut down", domain -> powerOff(domain, Domain::shutdown));
  }

  @Override
  public void destroyDomain(String name) throws HypervisorException {
    onDomain(name, "destroy", domain -> powerOff(domain, Domain::destroy));
  }

  @Override
  public void suspendDomain(String name) throws HypervisorException {
    onDomain(name, "pause", Domain::suspend);
  }

  @Override
  public void resumeDomain(String name) throws HypervisorException {
    onDomain(
        name,
        "resume",
        domain -> {
          try {
            domain.resume();
          } catch (LibvirtException e) {
            // Running already is done, not an error: libvirt resumes a domain it paused itself
            // (reverting to a snapshot with RAM, say) between our look at it and this call.
            if (DomainCalls.state(domain).power() != DomainState.Power.Running) {
              throw e;
            }
          }
        });
  }

  @Override
  public void undefineDomain(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      if (domain == null) {
        return;
      }
      try {
        domain.undefine(UNDEFINE_ALL_METADATA);
      } catch (LibvirtException e) {
        if (e.getError() == null
            || (e.getError().getCode() != ErrorNumber.VIR_ERR_INVALID_ARG
                && e.getError().getCode() != ErrorNumber.VIR_ERR_NO_SUPPORT)) {
          throw e;
        }
        // Drivers without NVRAM or checkpoints (the test driver) refuse those flags.
        domain.undefine(UNDEFINE_SNAPSHOT_METADATA);
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("undefine domain " + name, e);
    }
  }

  @Override
  public void migrateDomain(String name, MigrationRequest request) throws HypervisorException {
    String action = "migrate domain " + name + " to " + request.destinationUri();
    TypedParameter[] parameters;
    try {
      parameters = Migrations.parameters(name, request);
    } catch (IllegalArgumentException e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed, action + ": " + e.getMessage(), e);
    }
    try {
      // A connection of its own: while one call blocks on a connection for the whole migration,
      // libvirt's client holds back other threads' calls on it, by up to 5 s each (measured).
      Connect own = opener.open();
      try {
        Domain domain = requireDomain(own, name);
        // libvirt 9.0 takes no downtime parameter; QEMU keeps this limit for the coming job.
        domain.migrateSetMaxDowntime(request.maxDowntimeMillis());
        domain.migrateToURI(request.destinationUri(), parameters, Migrations.flags(request));
      } finally {
        try {
          own.close();
        } catch (LibvirtException ignored) {
          // the migration's outcome is what counts
        }
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify(action, e);
    }
  }

  @Override
  public Optional<MigrationProgress> migrationProgress(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      return domain == null ? Optional.empty() : runningMigration(domain);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the migration job of domain " + name, e);
    }
  }

  @Override
  public Optional<MigrationProgress> completedMigration(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      // Kept: libvirt forgets completed statistics once read, and a retry must see them too.
      return domain == null
          ? Optional.empty()
          : Migrations.completed(domain.getJobStats(JOB_STATS_COMPLETED | JOB_STATS_KEEP));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the completed job of domain " + name, e);
    }
  }

  @Override
  public void setMigrationMaxDowntime(String name, long millis) throws HypervisorException {
    onDomain(name, "set the migration downtime of", domain -> domain.migrateSetMaxDowntime(millis));
  }

  @Override
  public void abortMigration(String name) throws HypervisorException {
    onDomain(
        name,
        "abort the migration of",
        domain -> {
          // Another kind of job (a backup, a save) is not ours to abort.
          if (runningMigration(domain).isEmpty()) {
            return;
          }
          try {
            domain.abortJob();
          } catch (LibvirtException e) {
            // The migration may have ended between the look and the abort.
            if (e.getError() == null
                || e.getError().getCode() != ErrorNumber.VIR_ERR_OPERATION_INVALID
                || runningMigration(domain).isPresent()) {
              throw e;
            }
          }
        });
  }

  @Override
  public DomainMetadata exportMetadata(String name) throws HypervisorException {
    try {
      Domain domain = requireDomain(name);
      List<String> snapshots = new ArrayList<>();
      for (String snapshot : domain.snapshotListNames()) {
        snapshots.add(domain.snapshotLookupByName(snapshot).getXMLDesc());
      }
      String current =
          domain.hasCurrentSnapshot() == 1
              ? MomentXml.read(domain.snapshotCurrent().getXMLDesc()).name()
              : null;
      List<String> checkpoints = new ArrayList<>();
      for (DomainCheckpoint checkpoint : domain.listAllCheckpoints(0)) {
        checkpoints.add(checkpoint.getXMLDesc());
      }
      return new DomainMetadata(
          MomentXml.parentsFirst(snapshots), MomentXml.parentsFirst(checkpoints), current);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("export snapshots and checkpoints of domain " + name, e);
    } catch (IllegalArgumentException e) {
      throw unreadableMetadata(name, e);
    }
  }

  @Override
  public void detachMetadata(String name, DomainMetadata metadata) throws HypervisorException {
    try {
      Domain domain = requireDomain(name);
      // Children first, so that libvirt never rewrites a child's parent on the way.
      Set<String> snapshots = Set.of(domain.snapshotListNames());
      for (String snapshot : namesChildrenFirst(metadata.snapshotXmls())) {
        if (snapshots.contains(snapshot)) {
          domain.snapshotLookupByName(snapshot).delete(SNAPSHOT_DELETE_METADATA_ONLY);
        }
      }
      Set<String> checkpoints = Set.of(domain.checkpointListNames());
      for (String checkpoint : namesChildrenFirst(metadata.checkpointXmls())) {
        if (checkpoints.contains(checkpoint)) {
          domain.checkpointLookupByName(checkpoint).delete(CHECKPOINT_DELETE_METADATA_ONLY);
        }
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("detach snapshots and checkpoints of domain " + name, e);
    } catch (IllegalArgumentException e) {
      throw unreadableMetadata(name, e);
    }
  }

  @Override
  public void redefineMetadata(String name, DomainMetadata metadata) throws HypervisorException {
    try {
      Domain domain = requireDomain(name);
      Set<String> snapshots = Set.of(domain.snapshotListNames());
      for (String xml : metadata.snapshotXmls()) {
        String snapshot = MomentXml.read(xml).name();
        if (!snapshots.contains(snapshot)) {
          boolean current = snapshot.equals(metadata.currentSnapshot());
          domain.snapshotCreateXML(
              xml, current ? SNAPSHOT_REDEFINE | SNAPSHOT_REDEFINE_CURRENT : SNAPSHOT_REDEFINE);
        }
      }
      Set<String> checkpoints = Set.of(domain.checkpointListNames());
      for (String xml : metadata.checkpointXmls()) {
        if (!checkpoints.contains(MomentXml.read(xml).name())) {
          domain.checkpointCreateXML(xml, CHECKPOINT_REDEFINE);
        }
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("redefine snapshots and checkpoints of domain " + name, e);
    } catch (IllegalArgumentException e) {
      throw unreadableMetadata(name, e);
    }
  }

  @Override
  public SnapshotInfo createSnapshot(
      String name, String snapshot, String description, boolean saveMemory)
      throws HypervisorException {
    try {
      Domain domain = requireDomain(name);
      Optional<SnapshotInfo> existing = findSnapshot(domain, snapshot);
      if (existing.isPresent()) {
        return existing.get();
      }
      String xml =
          SnapshotXml.define(
              snapshot, description, domain.getXMLDesc(0), saveMemory && domain.isActive() == 1);
      return SnapshotXml.read(domain.snapshotCreateXML(xml, 0).getXMLDesc());
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("snapshot " + snapshot + " of domain " + name, e);
    }
  }

  @Override
  public Optional<SnapshotInfo> findSnapshot(String name, String snapshot)
      throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      return domain == null ? Optional.empty() : findSnapshot(domain, snapshot);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("look up snapshot " + snapshot + " of domain " + name, e);
    }
  }

  private static Optional<SnapshotInfo> findSnapshot(Domain domain, String snapshot)
      throws LibvirtException {
    if (!List.of(domain.snapshotListNames()).contains(snapshot)) {
      return Optional.empty();
    }
    return Optional.of(SnapshotXml.read(domain.snapshotLookupByName(snapshot).getXMLDesc()));
  }

  @Override
  public void revertToSnapshot(String name, String snapshot) throws HypervisorException {
    onDomain(
        name,
        "revert to snapshot " + snapshot + " of",
        domain -> domain.revertToSnapshot(domain.snapshotLookupByName(snapshot)));
  }

  @Override
  public void deleteSnapshot(String name, String snapshot) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      if (domain != null && List.of(domain.snapshotListNames()).contains(snapshot)) {
        domain.snapshotLookupByName(snapshot).delete(0);
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("delete snapshot " + snapshot + " of domain " + name, e);
    }
  }

  @Override
  public int freezeFilesystems(String name) throws HypervisorException {
    return agentCall(name, "freeze the file systems of", DomainCalls::freezeFilesystems);
  }

  @Override
  public void thawFilesystems(String name) throws HypervisorException {
    agentCall(name, "thaw the file systems of", DomainCalls::thawFilesystems);
  }

  @Override
  public BackupExport beginPullBackup(String name, PullBackupRequest request)
      throws HypervisorException {
    String action = "start a pull backup of domain " + name;
    try {
      Domain domain = requireDomain(name);
      Optional<String> running = backupJobXml(domain);
      if (running.isPresent()) {
        // Ours from an earlier call only if it is the same backup; anything else is in the way.
        if (!BackupXml.isJobFor(running.get(), request)) {
          throw new HypervisorException(
              HypervisorException.Failure.OperationFailed,
              action + ": the domain runs another backup job");
        }
        return BackupXml.readExport(running.get());
      }
      String domainXml = domain.getXMLDesc(0);
      String checkpointXml =
          request.newCheckpoint() == null
              ? null
              : BackupXml.checkpoint(domainXml, request.diskTargets(), request.newCheckpoint());
      String backupXml = BackupXml.pullBackup(name, domainXml, request, System.currentTimeMillis());
      domain.backupBegin(backupXml, checkpointXml, 0);
      return BackupXml.readExport(domain.getBackupXMLDesc(0));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify(action, e);
    } catch (IllegalArgumentException e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed, action + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Optional<BackupExport> runningBackup(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      return domain == null ? Optional.empty() : backupJobXml(domain).map(BackupXml::readExport);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the backup job of domain " + name, e);
    } catch (IllegalArgumentException e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          "read the backup job of domain " + name + ": " + e.getMessage(),
          e);
    }
  }

  @Override
  public void endBackup(String name) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      // Another kind of job (a migration, a save) is not ours to abort.
      if (domain == null || backupJobXml(domain).isEmpty()) {
        return;
      }
      try {
        domain.abortJob();
      } catch (LibvirtException e) {
        // The job may have ended between the look and the abort.
        if (backupJobXml(domain).isPresent()) {
          throw e;
        }
      }
      // The abort returns before the job is gone; until then a new backup would find it running.
      long deadline = System.nanoTime() + BACKUP_END_TIMEOUT.toNanos();
      while (backupJobXml(domain).isPresent()) {
        if (System.nanoTime() > deadline) {
          throw new HypervisorException(
              HypervisorException.Failure.OperationFailed,
              "the backup job of domain "
                  + name
                  + " is still running "
                  + BACKUP_END_TIMEOUT.toSeconds()
                  + " s after it was aborted");
        }
        Thread.sleep(BACKUP_END_POLL.toMillis());
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("end the backup job of domain " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          "interrupted while ending the backup job of domain " + name,
          e);
    }
  }

  @Override
  public void beginPushBackup(String name, PushBackupRequest request) throws HypervisorException {
    String action = "start a push backup of domain " + name;
    try {
      Domain domain = requireDomain(name);
      if (backupJobXml(domain).isPresent()) {
        // Its target images would be reported written by another job: never taken for ours.
        throw new HypervisorException(
            HypervisorException.Failure.OperationFailed,
            action + ": the domain runs another backup job");
      }
      String domainXml = domain.getXMLDesc(0);
      String checkpointXml =
          request.newCheckpoint() == null
              ? null
              : BackupXml.checkpoint(
                  domainXml,
                  List.copyOf(request.targetImageByDisk().keySet()),
                  request.newCheckpoint());
      // The images exist (with the parent as backing file for an incremental): reuse them.
      domain.backupBegin(
          BackupXml.pushBackup(domainXml, request), checkpointXml, BACKUP_BEGIN_REUSE_EXTERNAL);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify(action, e);
    } catch (IllegalArgumentException e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed, action + ": " + e.getMessage(), e);
    }
  }

  @Override
  public BackupJobState pushBackupState(String name) throws HypervisorException {
    try {
      Domain domain = requireDomain(name);
      if (domain.isActive() == 0) {
        return new BackupJobState(BackupJobState.Phase.None, 0, 0, null);
      }
      var running = BackupJobStats.running(domain.getJobStats(0));
      if (running.isPresent()) {
        return running.get();
      }
      // Kept: a retry after a lost reply must see the same outcome.
      return BackupJobStats.ended(domain.getJobStats(JOB_STATS_COMPLETED | JOB_STATS_KEEP));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the backup job of domain " + name, e);
    }
  }

  @Override
  public long diskCapacity(String name, String diskTarget) throws HypervisorException {
    try {
      return requireDomain(name).blockInfo(diskTarget).getCapacity();
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read the size of disk " + diskTarget + " of " + name, e);
    }
  }

  @Override
  public List<HostFile> listHostDirectory(String path) throws HypervisorException {
    return hostFiles.list(path);
  }

  @Override
  public void makeHostDirectory(String path) throws HypervisorException {
    hostFiles.makeDirectory(path);
  }

  @Override
  public void writeHostFile(String path, byte[] content) throws HypervisorException {
    hostFiles.write(path, content);
  }

  @Override
  public void uploadHostFile(String path, java.nio.file.Path content) throws HypervisorException {
    hostFiles.upload(path, content);
  }

  @Override
  public byte[] readHostFile(String path, int maxBytes) throws HypervisorException {
    return hostFiles.read(path, maxBytes);
  }

  @Override
  public String sha256OfHostFile(String path) throws HypervisorException {
    return hostFiles.sha256(path);
  }

  @Override
  public void deleteHostPath(String path) throws HypervisorException {
    hostFiles.delete(path);
  }

  @Override
  public void createHostImage(String path, long capacityBytes, String backingPath)
      throws HypervisorException {
    hostFiles.createImage(path, capacityBytes, backingPath);
  }

  @Override
  public void copyHostImage(String sourcePath, String targetPath) throws HypervisorException {
    hostFiles.copyImage(sourcePath, targetPath);
  }

  @Override
  public List<String> checkpoints(String name) throws HypervisorException {
    try {
      List<String> names = new ArrayList<>();
      for (DomainCheckpoint checkpoint :
          requireDomain(name).listAllCheckpoints(CHECKPOINT_LIST_TOPOLOGICAL)) {
        names.add(checkpoint.getName());
      }
      return names;
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("list the checkpoints of domain " + name, e);
    }
  }

  @Override
  public void deleteCheckpoint(String name, String checkpoint) throws HypervisorException {
    try {
      Domain domain = lookupDomain(name);
      if (domain != null && List.of(domain.checkpointListNames()).contains(checkpoint)) {
        domain.checkpointLookupByName(checkpoint).delete(0);
      }
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("delete checkpoint " + checkpoint + " of domain " + name, e);
    }
  }

  /** The definition of the domain's running backup job, or empty when it has none. */
  private static Optional<String> backupJobXml(Domain domain) throws LibvirtException {
    if (domain.isActive() == 0) {
      return Optional.empty(); // libvirt backs up running domains only
    }
    try {
      return Optional.of(domain.getBackupXMLDesc(0));
    } catch (LibvirtException e) {
      if (e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_NO_DOMAIN_BACKUP) {
        return Optional.empty();
      }
      throw e;
    }
  }

  private int agentCall(String name, String action, ToIntFunction<Domain> call)
      throws HypervisorException {
    try {
      return call.applyAsInt(requireDomain(name));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify(action + " domain " + name, e);
    } catch (IllegalStateException e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          action + " domain " + name + ": " + e.getMessage(),
          e);
    }
  }

  private static List<String> namesChildrenFirst(List<String> parentsFirst) {
    List<String> names = new ArrayList<>();
    for (String xml : parentsFirst) {
      names.add(0, MomentXml.read(xml).name());
    }
    return names;
  }

  private static HypervisorException unreadableMetadata(String name, IllegalArgumentException e) {
    return new HypervisorException(
        HypervisorException.Failure.OperationFailed,
        "a snapshot or checkpoint definition for domain "
            + name
            + " is unreadable: "
            + e.getMessage(),
        e);
  }

  /**
   * The domain's running migration; empty when it has none, or stopped or left just now. An
   * incoming one has no figures: libvirt keeps them on the source.
   */
  private static Optional<MigrationProgress> runningMigration(Domain domain)
      throws LibvirtException {
    try {
      return domain.isActive() == 0 ? Optional.empty() : Migrations.running(domain.getJobStats(0));
    } catch (LibvirtException e) {
      ErrorNumber code =
          e.getError() == null ? ErrorNumber.VIR_ERR_UNKNOWN : e.getError().getCode();
      // libvirt 9.0 refuses statistics of an incoming migration with this error alone.
      if (code == ErrorNumber.VIR_ERR_OPERATION_UNSUPPORTED) {
        return Optional.of(Migrations.INCOMING);
      }
      // Not running (any more) or undefined at the source: the migration is over.
      if (code == ErrorNumber.VIR_ERR_OPERATION_INVALID || code == ErrorNumber.VIR_ERR_NO_DOMAIN) {
        return Optional.empty();
      }
      throw e;
    }
  }

  @Override
  public synchronized void onDomainChange(Consumer<String> listener) throws HypervisorException {
    // Held here (JNA callbacks must stay reachable) and removed before the connection closes:
    // a callback left registered on a closed connection crashes the event loop.
    LifecycleListener subscription =
        (domain, event) -> {
          try {
            listener.accept(domain.getName());
          } catch (LibvirtException | RuntimeException e) {
            // the next periodic check covers a lost event
          }
          return 0;
        };
    try {
      connect.addLifecycleListener(subscription);
      lifecycleListeners.add(subscription);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("subscribe to domain events of " + hostName, e);
    }
  }

  @Override
  public boolean isAlive() {
    if (closed) {
      return false;
    }
    try {
      return connect.isAlive();
    } catch (LibvirtException e) {
      return false;
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (LifecycleListener subscription : lifecycleListeners) {
      try {
        connect.removeLifecycleListener(subscription);
      } catch (LibvirtException ignored) {
        // closing anyway
      }
    }
    try {
      connect.close();
    } catch (LibvirtException ignored) {
      // the connection is gone either way
    }
    if (credentialDir != null) {
      CredentialFiles.deleteRecursively(credentialDir);
    }
  }

  // VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | SNAPSHOTS_METADATA, then NVRAM | CHECKPOINTS_METADATA
  private static final int UNDEFINE_SNAPSHOT_METADATA = 1 | 2;
  private static final int ADDRESSES_FROM_AGENT = 1;
  private static final int AFFECT_LIVE = 1;
  private static final int UNDEFINE_ALL_METADATA = UNDEFINE_SNAPSHOT_METADATA | 4 | 16;
  private static final Duration BACKUP_END_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration BACKUP_END_POLL = Duration.ofMillis(50);
  // VIR_DOMAIN_JOB_STATS_COMPLETED, VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED
  private static final int JOB_STATS_COMPLETED = 1;
  private static final int JOB_STATS_KEEP = 2;
  private static final int BACKUP_BEGIN_REUSE_EXTERNAL = 1;
  // VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE, _CURRENT; VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
  private static final int SNAPSHOT_REDEFINE = 1;
  private static final int SNAPSHOT_REDEFINE_CURRENT = 2;
  private static final int SNAPSHOT_DELETE_METADATA_ONLY = 2;
  // VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE, VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY
  private static final int CHECKPOINT_REDEFINE = 1;
  private static final int CHECKPOINT_DELETE_METADATA_ONLY = 2;
  // VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL: each parent before its children
  private static final int CHECKPOINT_LIST_TOPOLOGICAL = 2;

  private interface DomainAction {
    void apply(Domain domain) throws LibvirtException;
  }

  private void onDomain(String name, String action, DomainAction call) throws HypervisorException {
    try {
      call.apply(requireDomain(name));
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify(action + " domain " + name, e);
    }
  }

  private Domain requireDomain(String name) throws LibvirtException, HypervisorException {
    return requireDomain(connect, name);
  }

  private Domain requireDomain(Connect on, String name)
      throws LibvirtException, HypervisorException {
    Domain domain = lookupDomain(on, name);
    if (domain == null) {
      throw new HypervisorException(
          HypervisorException.Failure.NotFound,
          "domain " + name + " does not exist on " + hostName);
    }
    return domain;
  }

  /**
   * Powering off a domain that is already off is done, not an error: the guest may have shut down
   * between our look at it and this call.
   */
  private static void powerOff(Domain domain, DomainAction call) throws LibvirtException {
    try {
      call.apply(domain);
    } catch (LibvirtException e) {
      // Drivers disagree on the error code (operation invalid, internal error): ask the domain.
      if (domain.isActive() == 1) {
        throw e;
      }
    }
  }

  private Domain lookupDomain(String name) throws LibvirtException {
    return lookupDomain(connect, name);
  }

  private static Domain lookupDomain(Connect on, String name) throws LibvirtException {
    try {
      return on.domainLookupByName(name);
    } catch (LibvirtException e) {
      if (e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_NO_DOMAIN) {
        return null;
      }
      throw e;
    }
  }

  /** The pool's volume of that name, or null when it has none. */
  static StorageVol lookupVolume(StoragePool pool, String name) throws LibvirtException {
    try {
      return pool.storageVolLookupByName(name);
    } catch (LibvirtException e) {
      if (e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_NO_STORAGE_VOL) {
        return null;
      }
      throw e;
    }
  }

  private static DomainState stateOf(Domain domain) throws LibvirtException {
    var power = DomainCalls.state(domain);
    boolean active = domain.isActive() != 0;
    var info = active ? domain.getInfo() : null;
    // VIR_DOMAIN_XML_INACTIVE: the persistent definition, not the live one.
    return new DomainState(
        domain.getName(),
        domain.getUUIDString(),
        power.power(),
        power.failed(),
        domain.getXMLDesc(2),
        active ? info.memory / 1024 : 0,
        active ? info.nrVirtCpu : 0);
  }

  private StoragePool lookupPool(String name) throws LibvirtException {
    return lookupPool(connect, name);
  }

  /** The pool of that name, or null when the host has none. */
  static StoragePool lookupPool(Connect connect, String name) throws LibvirtException {
    try {
      return connect.storagePoolLookupByName(name);
    } catch (LibvirtException e) {
      if (e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_NO_STORAGE_POOL) {
        return null;
      }
      throw e;
    }
  }

  private static PoolState stateOf(String name, StoragePoolInfo info) {
    return new PoolState(
        name,
        info.state == StoragePoolState.VIR_STORAGE_POOL_RUNNING,
        info.capacity,
        info.allocation,
        info.available);
  }

  /** libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release. */
  static String versionString(long encoded) {
    return (encoded / 1_000_000) + "." + (encoded / 1_000 % 1_000) + "." + (encoded % 1_000);
  }
}
