package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Backs up the VirtualMachines its selector matches on a cron schedule, to a storage domain with
 * {@code Backups} content, and prunes old backups by its retention.
 */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("bbp")
@AdditionalPrinterColumn(
    name = "Schedule",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.schedule")
@AdditionalPrinterColumn(
    name = "Storage",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.storageDomainName")
@AdditionalPrinterColumn(
    name = "Last",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".status.lastScheduleTime")
@AdditionalPrinterColumn(
    name = "Next",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.nextScheduleTime")
@AdditionalPrinterColumn(
    name = "Ready",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
public class BackupPolicy extends CustomResource<BackupPolicySpec, BackupPolicyStatus>
    implements Namespaced {}
