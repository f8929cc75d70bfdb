package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** What to restore from, and where to. Immutable: another attempt is another object. */
@ValidationRule(value = "self == oldSelf", message = "spec is immutable: create another restore")
@ValidationRule(
    value = "has(self.snapshotName) != has(self.backupName)",
    message = "set exactly one of spec.snapshotName and spec.backupName")
@ValidationRule(
    value = "!has(self.snapshotName) || self.target == 'InPlace'",
    message = "spec.target: a snapshot can only be restored InPlace (it lives in the VM's disks)")
@ValidationRule(
    value = "self.target == 'InPlace' || self.target != self.vmName",
    message = "spec.target: to restore into the VM itself use InPlace")
public class VirtualMachineRestoreSpec {
  @Required
  @Size(min = 1, max = 253)
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  @JsonPropertyDescription(
      "The VirtualMachine the snapshot or backup was taken of, in this namespace.")
  public String vmName;

  @Size(min = 1, max = 253)
  @JsonPropertyDescription("A VirtualMachineSnapshot of the VM to revert to.")
  public String snapshotName;

  @Size(min = 1, max = 253)
  @JsonPropertyDescription("A Complete VirtualMachineBackup of the VM to restore.")
  public String backupName;

  @Default("InPlace")
  @Size(min = 1, max = 63)
  @Pattern("^(InPlace|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")
  @JsonPropertyDescription(
      "InPlace: the VM itself goes back (it is stopped first for a backup). Otherwise the name"
          + " of a new VirtualMachine to create from the backup; it must not exist yet.")
  public String target;
}
