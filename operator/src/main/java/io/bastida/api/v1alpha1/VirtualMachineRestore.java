package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * One restore of a VirtualMachine from a snapshot (in place) or from a backup (in place, or into a
 * new VirtualMachine).
 */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("bvmrestore")
@AdditionalPrinterColumn(
    name = "VM",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.vmName")
@AdditionalPrinterColumn(
    name = "Snapshot",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.snapshotName")
@AdditionalPrinterColumn(
    name = "Backup",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.backupName")
@AdditionalPrinterColumn(
    name = "Target",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.target")
@AdditionalPrinterColumn(
    name = "Status",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.printableStatus")
@AdditionalPrinterColumn(
    name = "Age",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".metadata.creationTimestamp")
public class VirtualMachineRestore
    extends CustomResource<VirtualMachineRestoreSpec, VirtualMachineRestoreStatus>
    implements Namespaced {}
