package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A point-in-time copy of a VirtualMachine's disks (and RAM, when asked), kept inside its qcow2
 * images on the host. Deleting it deletes the libvirt snapshot.
 */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("bvmsnap")
@AdditionalPrinterColumn(
    name = "VM",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.vmName")
@AdditionalPrinterColumn(
    name = "ReadyToUse",
    type = AdditionalPrinterColumn.Type.BOOLEAN,
    jsonPath = ".status.readyToUse")
@AdditionalPrinterColumn(
    name = "Memory",
    type = AdditionalPrinterColumn.Type.BOOLEAN,
    jsonPath = ".status.memoryIncluded")
@AdditionalPrinterColumn(
    name = "Created",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".status.creationTime")
public class VirtualMachineSnapshot
    extends CustomResource<VirtualMachineSnapshotSpec, VirtualMachineSnapshotStatus>
    implements Namespaced {}
