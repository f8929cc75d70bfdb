package io.bastida.api.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crd.generator.annotation.PrinterColumnFormat;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** Where VM disks, ISO images and backups live: an NFS export or a local directory. */
@Group(Bastida.GROUP)
@Version(Bastida.VERSION)
@ShortNames("sd")
@AdditionalPrinterColumn(
    name = "Ready",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(
    name = "Type",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.type")
@AdditionalPrinterColumn(
    name = "Hosts",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.attachedHosts")
@AdditionalPrinterColumn(
    name = "Capacity",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.capacity")
@AdditionalPrinterColumn(
    name = "Available",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.available")
@AdditionalPrinterColumn(
    name = "Content",
    type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".spec.content",
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    type = AdditionalPrinterColumn.Type.DATE,
    format = PrinterColumnFormat.NONE,
    jsonPath = ".metadata.creationTimestamp")
public class StorageDomain extends CustomResource<StorageDomainSpec, StorageDomainStatus> {}
