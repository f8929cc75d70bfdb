package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Which VM to snapshot and what to include. Immutable: another snapshot is another object. */
@ValidationRule(
    value = "self == oldSelf",
    message = "spec is immutable: create another snapshot instead")
public class VirtualMachineSnapshotSpec {
  @Required
  @Size(min = 1, max = 253)
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  @JsonPropertyDescription("The VirtualMachine to snapshot, in this namespace.")
  public String vmName;

  @Default("false")
  @JsonPropertyDescription(
      "Also save the running guest's RAM, so a restore resumes it exactly where it was. Without"
          + " it a restore boots the guest from the disks as they were (like after a power cut).")
  public Boolean memory;

  @Default("false")
  @JsonPropertyDescription(
      "Ask the guest agent to flush and freeze the guest's file systems around the snapshot. When"
          + " the agent does not answer the snapshot is still taken, and the Quiesced condition"
          + " says it is only crash-consistent.")
  public Boolean quiesce;
}
