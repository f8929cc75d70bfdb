package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Version;

/** One libvirt hypervisor that Bastida places virtual machines on. Cluster-scoped. */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@AdditionalPrinterColumn(
    name = "Ready",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(
    name = "Reason",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].reason")
@AdditionalPrinterColumn(
    name = "CPUs",
    type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".status.capacity.cpu")
@AdditionalPrinterColumn(
    name = "Memory",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.capacity.memory")
@AdditionalPrinterColumn(
    name = "Domains",
    type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".status.domains")
@AdditionalPrinterColumn(
    name = "Maintenance",
    type = AdditionalPrinterColumn.Type.BOOLEAN,
    jsonPath = ".spec.maintenance")
@AdditionalPrinterColumn(
    name = "URI",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.uri",
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".metadata.creationTimestamp")
public class Host extends CustomResource<HostSpec, HostStatus> {}
