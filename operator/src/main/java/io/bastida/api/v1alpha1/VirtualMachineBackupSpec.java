package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Which VM to back up, where, and how. Immutable: another run is another object. */
@ValidationRule(value = "self == oldSelf", message = "spec is immutable: create another backup")
public class VirtualMachineBackupSpec {
  @Required
  @Size(min = 1, max = 253)
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  @JsonPropertyDescription("The VirtualMachine to back up, in this namespace.")
  public String vmName;

  @Required
  @Size(min = 1, max = 253)
  @JsonPropertyDescription("A StorageDomain whose content includes Backups.")
  public String storageDomainName;

  @Default("Full")
  @JsonPropertyDescription(
      "Incremental copies only what changed since the VM's previous backup on this storage"
          + " domain; it falls back to Full (and says why) when that is not possible.")
  public BackupMode mode;

  @Default("7")
  @Min(1)
  @Max(365)
  @JsonPropertyDescription("With Incremental: the most backups in one chain, counting its full.")
  public Integer fullEvery;

  @Default("false")
  @JsonPropertyDescription("Freeze the guest's file systems through its agent while starting.")
  public Boolean quiesce;

  @Default("false")
  @JsonPropertyDescription(
      "Check the backup before it is Complete: a throwaway copy of the VM boots from it on the"
          + " VM's host (no crash within 10 s; its guest agent answers, if it has one), and on"
          + " NFS its images are also compared with the VM's disks as they were at backup time.")
  public Boolean verify;

  @Min(1)
  @Max(100000)
  @JsonPropertyDescription(
      "A cap on backup traffic to an NFS storage domain, in MiB/s; none when omitted. A backup"
          + " QEMU writes on the host's own local storage is not capped.")
  public Integer bandwidthMiBPerSecond;
}
