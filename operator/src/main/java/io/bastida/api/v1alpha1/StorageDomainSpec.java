package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.List;

@ValidationRule(
    value = "has(self.nfs) != has(self.local)",
    message = "exactly one of spec.nfs or spec.local must be set")
@ValidationRule(
    value = "has(self.nfs) == has(oldSelf.nfs)",
    message = "the storage type (nfs or local) is immutable")
public class StorageDomainSpec {
  @JsonPropertyDescription("An NFS export shared by the hosts.")
  private NfsSource nfs;

  @JsonPropertyDescription("A directory on each selected host (not shared: no live migration).")
  private LocalSource local;

  @Required
  @Size(min = 1, max = 3)
  @ValidationRule(
      value = "self.all(c, self.filter(d, d == c).size() == 1)",
      message = "must not list the same content type twice")
  @JsonPropertyDescription("What the domain holds: any of Disks, ISO, Backups.")
  private List<StorageContent> content;

  @JsonPropertyDescription("Hosts (by label) that use this domain; empty selects every Host.")
  private LabelSelector hostSelector;

  public NfsSource getNfs() {
    return nfs;
  }

  public void setNfs(NfsSource nfs) {
    this.nfs = nfs;
  }

  public LocalSource getLocal() {
    return local;
  }

  public void setLocal(LocalSource local) {
    this.local = local;
  }

  public List<StorageContent> getContent() {
    return content;
  }

  public void setContent(List<StorageContent> content) {
    this.content = content;
  }

  public LabelSelector getHostSelector() {
    return hostSelector;
  }

  public void setHostSelector(LabelSelector hostSelector) {
    this.hostSelector = hostSelector;
  }
}
