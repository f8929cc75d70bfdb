package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * One backup of one VirtualMachine onto a storage domain, made by a BackupPolicy or by hand.
 * Deleting it deletes its files, unless a newer backup of its chain still needs them.
 */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("bvmbackup")
@AdditionalPrinterColumn(
    name = "VM",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.vmName")
@AdditionalPrinterColumn(
    name = "Mode",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.mode")
@AdditionalPrinterColumn(
    name = "Status",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.printableStatus")
@AdditionalPrinterColumn(
    name = "Bytes",
    type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".status.totalBytes")
@AdditionalPrinterColumn(
    name = "Parent",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.parentBackupName",
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".metadata.creationTimestamp")
public class VirtualMachineBackup
    extends CustomResource<VirtualMachineBackupSpec, VirtualMachineBackupStatus>
    implements Namespaced {}
