package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LabelSelector;

/** When to back up which VMs, where, and how many backups to keep. */
public class BackupPolicySpec {
  @Required
  @Size(min = 1, max = 100)
  // Five fields or a macro; the operator checks each field's range (Ready=False InvalidSchedule).
  @Pattern("^(@(hourly|daily|midnight|weekly|monthly|yearly|annually)|(\\S+\\s+){4}\\S+)$")
  @JsonPropertyDescription(
      "When to run, as a 5-field cron expression (minute hour day-of-month month day-of-week)"
          + " or @hourly, @daily, @weekly, @monthly, @yearly.")
  public String schedule;

  @Default("UTC")
  @Size(min = 1, max = 64)
  @JsonPropertyDescription("The IANA time zone the schedule is read in, e.g. Europe/Madrid.")
  public String timeZone;

  @Default("3600")
  @Min(1)
  @Max(604800)
  @JsonPropertyDescription(
      "A run missed while the operator was down is made up once when it returns, if no more"
          + " than this many seconds late; otherwise it is skipped.")
  public Integer startingDeadlineSeconds;

  @Required
  @JsonPropertyDescription("The VirtualMachines of this namespace to back up, by label.")
  public LabelSelector selector;

  @Required
  @Size(min = 1, max = 253)
  @JsonPropertyDescription("A StorageDomain whose content includes Backups.")
  public String storageDomainName;

  @Default("Incremental")
  @JsonPropertyDescription(
      "Full copies every block each time; Incremental copies what changed since the previous"
          + " backup, with a full one every fullEvery backups.")
  public BackupMode mode;

  @Default("7")
  @Min(1)
  @Max(365)
  @JsonPropertyDescription(
      "With Incremental: the most backups in one chain, counting its full backup.")
  public Integer fullEvery;

  @Required
  @JsonPropertyDescription("Which backups to keep; the others are deleted with their files.")
  public Retention retention;

  @Default("false")
  @JsonPropertyDescription("Freeze the guest's file systems through its agent while starting.")
  public Boolean quiesce;

  @Default("false")
  @JsonPropertyDescription(
      "Check the backup before it is Complete: a throwaway copy of the VM boots from it on the"
          + " VM's host (no crash within 10 s; its guest agent answers, if it has one), and on"
          + " NFS its images are also compared with the VM's disks as they were at backup time.")
  public Boolean verify;

  @Default("false")
  @JsonPropertyDescription("Stop creating new backups; retention still applies.")
  public Boolean suspend;

  @Min(1)
  @Max(100000)
  @JsonPropertyDescription(
      "A cap on backup traffic per VM to an NFS storage domain, in MiB/s; none when omitted. A"
          + " backup QEMU writes on the host's own local storage is not capped.")
  public Integer bandwidthMiBPerSecond;

  /** How many backups to keep, with Proxmox's meaning of each rule. */
  @ValidationRule(
      value =
          "(has(self.keepLast) ? self.keepLast : 0) + (has(self.keepDaily) ? self.keepDaily : 0)"
              + " + (has(self.keepWeekly) ? self.keepWeekly : 0)"
              + " + (has(self.keepMonthly) ? self.keepMonthly : 0) > 0",
      message =
          "spec.retention keeps nothing: set at least one of keepLast, keepDaily, keepWeekly,"
              + " keepMonthly above 0")
  public static class Retention {
    @Min(0)
    @Max(1000)
    @JsonPropertyDescription("Keep the newest N backups.")
    public Integer keepLast;

    @Min(0)
    @Max(1000)
    @JsonPropertyDescription("Keep the newest backup of each of the last N days with backups.")
    public Integer keepDaily;

    @Min(0)
    @Max(1000)
    @JsonPropertyDescription("Keep the newest backup of each of the last N ISO weeks.")
    public Integer keepWeekly;

    @Min(0)
    @Max(1000)
    @JsonPropertyDescription("Keep the newest backup of each of the last N months.")
    public Integer keepMonthly;
  }
}
