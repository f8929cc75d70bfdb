package io.bastida.operator.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.bastida.api.v1alpha1.LocalSource;
import io.bastida.api.v1alpha1.NfsAccess;
import io.bastida.api.v1alpha1.NfsSource;
import io.bastida.api.v1alpha1.StorageContent;
import io.bastida.api.v1alpha1.StorageDomainSpec;
import io.bastida.api.v1alpha1.StorageDomainStatus;
import io.bastida.hypervisor.PoolDefinition;
import io.bastida.operator.status.Conditions;
import io.bastida.operator.storage.StoragePlanner.Attachment;
import io.bastida.operator.storage.StoragePlanner.DeletionDecision;
import io.bastida.operator.storage.StoragePlanner.HostView;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StoragePlannerTest {
  private static final long GIB = 1024L * 1024 * 1024;

  @Test
  void emptySelectorSelectsEveryHostAndLabelsNarrowIt() {
    List<HostView> hosts =
        List.of(
            new HostView("b", Map.of("rack", "1"), true, true),
            new HostView("a", Map.of("rack", "2", "ssd", "yes"), true, true),
            new HostView("c", Map.of(), true, false));
    StorageDomainSpec spec = local("/srv");

    assertThat(StoragePlanner.selectedHosts(spec, hosts))
        .extracting(HostView::name)
        .containsExactly("a", "b", "c");

    spec.setHostSelector(
        new LabelSelectorBuilder()
            .addNewMatchExpression()
            .withKey("rack")
            .withOperator("In")
            .withValues("1", "2")
            .endMatchExpression()
            .addNewMatchExpression()
            .withKey("ssd")
            .withOperator("DoesNotExist")
            .endMatchExpression()
            .build());
    assertThat(StoragePlanner.selectedHosts(spec, hosts))
        .extracting(HostView::name)
        .containsExactly("b");
  }

  @Test
  void poolPerStorageType() {
    assertThat(StoragePlanner.poolFor("fast", local("/srv/vms")))
        .contains(new PoolDefinition.Directory("bastida-fast", "/srv/vms"));
    assertThat(StoragePlanner.poolFor("shared", nfs(NfsAccess.Mount)))
        .contains(
            new PoolDefinition.NetworkFilesystem(
                "bastida-shared",
                "10.77.0.10",
                "/export",
                "/var/lib/bastida/mnt/shared",
                List.of()));
    assertThat(StoragePlanner.poolFor("shared", nfs(NfsAccess.Native))).isEmpty();
  }

  @Test
  void localDomainIsReadyWhenEveryReadyHostAttachedAndSumsTheirSpace() {
    StorageDomainStatus status =
        StoragePlanner.status(
            local("/srv"),
            List.of(
                Attachment.attached("a", "bastida-x", 100 * GIB, 40 * GIB),
                Attachment.attached("b", "bastida-x", 50 * GIB, 10 * GIB)),
            null);

    assertThat(status.getCapacity().toString()).isEqualTo("153600Mi");
    assertThat(status.getAvailable().toString()).isEqualTo("51200Mi");
    assertThat(status.getAttachedHosts()).isEqualTo("2/2");
    assertThat(status.getType()).isEqualTo("Local");
    assertThat(Conditions.isTrue(status.getConditions(), "Ready")).isTrue();
  }

  @Test
  void aHostThatIsDownDoesNotMakeTheDomainUnreadyButAFailedAttachDoes() {
    var down = Attachment.failed("b", "bastida-x", "HostNotReady", "the host is not Ready");
    StorageDomainStatus partial =
        StoragePlanner.status(
            local("/srv"), List.of(Attachment.attached("a", "bastida-x", GIB, GIB), down), null);
    assertThat(Conditions.find(partial.getConditions(), "Ready").orElseThrow().getMessage())
        .isEqualTo("attached to 1 of 2 hosts (not ready: b)");

    var failed = Attachment.failed("b", "bastida-x", "OperationFailed", "cannot create /srv");
    StorageDomainStatus broken =
        StoragePlanner.status(
            local("/srv"), List.of(Attachment.attached("a", "bastida-x", GIB, GIB), failed), null);
    var ready = Conditions.find(broken.getConditions(), "Ready").orElseThrow();
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("AttachFailed");
    assertThat(ready.getMessage()).isEqualTo("b: cannot create /srv");
  }

  @Test
  void nativeNfsTakesItsSizeFromTheProbeAndItsReadinessFromTheExport() {
    var hosts = List.of(Attachment.attached("a", null, null, null));

    StorageDomainStatus ok =
        StoragePlanner.status(
            nfs(NfsAccess.Native), hosts, NfsExportProbe.Result.ok(8 * GIB, 2 * GIB));
    assertThat(ok.getCapacity().toString()).isEqualTo("8192Mi");
    assertThat(ok.getType()).isEqualTo("NFS/Native");
    assertThat(Conditions.isTrue(ok.getConditions(), "Ready")).isTrue();

    StorageDomainStatus unreachable =
        StoragePlanner.status(
            nfs(NfsAccess.Native),
            hosts,
            NfsExportProbe.Result.failed("ExportUnreachable", "no answer"));
    assertThat(Conditions.find(unreachable.getConditions(), "Ready").orElseThrow().getReason())
        .isEqualTo("ExportUnreachable");
  }

  @Test
  void hostsNotCheckedYetMakeTheDomainWaitRatherThanFail() {
    var pending = Attachment.failed("a", "bastida-x", "HostPending", "not checked yet");
    var down = Attachment.failed("b", "bastida-x", "HostNotReady", "the host is not Ready");

    var waiting = StoragePlanner.status(local("/srv"), List.of(pending, down), null);
    assertThat(Conditions.find(waiting.getConditions(), "Ready").orElseThrow().getReason())
        .isEqualTo("WaitingForHosts");

    var none = StoragePlanner.status(local("/srv"), List.of(down), null);
    assertThat(Conditions.find(none.getConditions(), "Ready").orElseThrow().getReason())
        .isEqualTo("NoReadyHosts");
  }

  @Test
  void noSelectedHostIsReportedNotSilentlyReady() {
    StorageDomainStatus status = StoragePlanner.status(local("/srv"), List.of(), null);

    assertThat(Conditions.find(status.getConditions(), "Ready").orElseThrow().getReason())
        .isEqualTo("NoHosts");
  }

  @Test
  void deletionIsRefusedWhileAnyHostHoldsVolumesAndWaitsForHostsItCannotAsk() {
    Map<String, List<String>> volumes = new HashMap<>();
    volumes.put("a", List.of());
    volumes.put("b", Arrays.asList("web-root.qcow2"));
    volumes.put("c", null);

    var blocked = (DeletionDecision.Blocked) StoragePlanner.deletion(volumes);
    assertThat(blocked.reason()).isEqualTo("InUse");
    assertThat(blocked.message()).contains("b: web-root.qcow2");

    volumes.put("b", List.of());
    var waiting = (DeletionDecision.Blocked) StoragePlanner.deletion(volumes);
    assertThat(waiting.reason()).isEqualTo("WaitingForHosts");
    assertThat(waiting.message()).endsWith(": c");

    volumes.put("c", List.of());
    assertThat(StoragePlanner.deletion(volumes)).isInstanceOf(DeletionDecision.Proceed.class);
  }

  private static StorageDomainSpec local(String path) {
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setLocal(new LocalSource(path));
    spec.setContent(List.of(StorageContent.Disks));
    return spec;
  }

  private static StorageDomainSpec nfs(NfsAccess access) {
    NfsSource nfs = new NfsSource();
    nfs.setServer("10.77.0.10");
    nfs.setPath("/export");
    nfs.setAccess(access);
    StorageDomainSpec spec = new StorageDomainSpec();
    spec.setNfs(nfs);
    spec.setContent(List.of(StorageContent.Disks, StorageContent.Backups));
    return spec;
  }
}
