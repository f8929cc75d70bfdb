package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

@ValidationRule(
    value = "self.server == oldSelf.server && self.path == oldSelf.path",
    message = "server and path are immutable: create a new StorageDomain to move storage")
public class NfsSource {
  @Required
  @Size(min = 1, max = 253)
  @Pattern("^[A-Za-z0-9.:-]+$")
  @JsonPropertyDescription("NFS server host name or IP address.")
  private String server;

  @Required
  @Size(min = 1, max = 1024)
  @Pattern("^/")
  @JsonPropertyDescription("Exported path on the server, absolute.")
  private String path;

  @JsonPropertyDescription("Mount options for Mount access, e.g. vers=4.2 or soft.")
  private List<String> mountOptions;

  @Default("Mount")
  @JsonPropertyDescription(
      "Mount: each host mounts the export (libvirt netfs pool). Native: QEMU opens disks over"
          + " nfs:// itself and nothing is mounted.")
  private NfsAccess access;

  public String getServer() {
    return server;
  }

  public void setServer(String server) {
    this.server = server;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }

  public List<String> getMountOptions() {
    return mountOptions;
  }

  public void setMountOptions(List<String> mountOptions) {
    this.mountOptions = mountOptions;
  }

  public NfsAccess getAccess() {
    return access;
  }

  public void setAccess(NfsAccess access) {
    this.access = access;
  }
}
