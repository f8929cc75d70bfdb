package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

public class LocalSource {
  @Required
  @Size(min = 2, max = 1024)
  @Pattern("^/")
  @ValidationRule(
      value = "self == oldSelf",
      message = "is immutable: create a new StorageDomain to move storage")
  @JsonPropertyDescription("Absolute directory on each selected host; created when missing.")
  private String path;

  public LocalSource() {}

  public LocalSource(String path) {
    this.path = path;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }
}
