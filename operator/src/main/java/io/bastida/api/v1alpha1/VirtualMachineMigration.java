package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * One live migration of one VirtualMachine to another Host. Deleting it while it runs aborts it;
 * the VM goes on running where it was.
 */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("bvmim")
@AdditionalPrinterColumn(
    name = "VM",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.vmName")
@AdditionalPrinterColumn(
    name = "Status",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.printableStatus")
@AdditionalPrinterColumn(
    name = "Source",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.sourceHostName")
@AdditionalPrinterColumn(
    name = "Target",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.targetHostName")
@AdditionalPrinterColumn(
    name = "Downtime-ms",
    type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".status.downtimeMilliseconds")
@AdditionalPrinterColumn(
    name = "Age",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".metadata.creationTimestamp")
public class VirtualMachineMigration
    extends CustomResource<VirtualMachineMigrationSpec, VirtualMachineMigrationStatus>
    implements Namespaced {}
