package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.NodeFacts;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.hypervisor.PoolState;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;
import org.libvirt.Connect;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.libvirt.StoragePoolInfo;
import org.libvirt.StoragePoolInfo.StoragePoolState;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

/** {@link Hypervisor} over one libvirt-java connection. */
final class LibvirtHypervisor implements Hypervisor {
  private final String hostName;
  private final Connect connect;
  private final Path credentialDir;
  private volatile boolean closed;

  LibvirtHypervisor(String hostName, Connect connect, Path credentialDir) {
    this.hostName = hostName;
    this.connect = connect;
    this.credentialDir = credentialDir;
  }

  @Override
  public NodeFacts nodeFacts() throws HypervisorException {
    try {
      var info = connect.nodeInfo();
      Document capabilities = parse(connect.getCapabilities());
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
          running);
    } catch (LibvirtException e) {
      throw LibvirtErrors.classify("read node facts of " + hostName, e);
    } catch (Exception e) {
      throw new HypervisorException(
          HypervisorException.Failure.OperationFailed,
          "cannot read capabilities of " + hostName + ": " + e.getMessage(),
          e);
    }
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
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      connect.close();
    } catch (LibvirtException ignored) {
      // the connection is gone either way
    }
    if (credentialDir != null) {
      CredentialFiles.deleteRecursively(credentialDir);
    }
  }

  private StoragePool lookupPool(String name) throws LibvirtException {
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

  private static Document parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return factory.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
  }
}
