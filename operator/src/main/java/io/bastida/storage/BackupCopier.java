package io.bastida.storage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.bastida.storage.QemuImg.QemuImgException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Copies disk content into backup images and back, with {@code qemu-img} and {@code qemu-io}: from
 * the NBD export of a pull-mode backup job ({@code nbd://host:port/export}), or from an image
 * ({@code nfs://} URL) of a stopped domain or a backup chain. Targets are qcow2 images, made anew:
 * whatever is at a target URL is replaced, and a failed copy leaves a partial target for the caller
 * to delete.
 *
 * <p>Same process rules as {@link QemuImg}: argument lists, a timeout on every run (so it must
 * cover the longest copy), qemu-img's own message in every failure. Thread-safe.
 */
public final class BackupCopier {

  /**
   * @param bytesCopied the data read from the source: its allocated, non-zero extents for a full
   *     copy, its dirty extents for an incremental one
   */
  public record CopyResult(long bytesCopied) {}

  /** A byte range of a disk. */
  record Extent(long offset, long length) {}

  // Dirty bitmaps on a large disk can have many small extents: room for ~600k map entries.
  private static final int MAX_MAP_OUTPUT_BYTES = 64 * 1024 * 1024;
  private static final int MAX_OTHER_OUTPUT_BYTES = 1024 * 1024;
  // qemu-io buffers every read in flight: at most this much per flushed group, ...
  static final long MAX_BYTES_IN_FLIGHT = 256L * 1024 * 1024;
  static final long MAX_READ_BYTES = 16L * 1024 * 1024;
  // ... and this many commands per process, far below the kernel's limit on argument lists.
  static final int MAX_COMMANDS_PER_PROCESS = 4096;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final QemuTool qemuImg;
  private final QemuTool qemuImgMap;
  private final QemuTool qemuIo;

  /** Runs {@code qemu-img} and {@code qemu-io} from the PATH; {@code timeout} bounds each run. */
  public BackupCopier(Duration timeout) {
    this("qemu-img", "qemu-io", timeout);
  }

  BackupCopier(String qemuImgBinary, String qemuIoBinary, Duration timeout) {
    this.qemuImg = new QemuTool(qemuImgBinary, timeout, MAX_OTHER_OUTPUT_BYTES);
    this.qemuImgMap = new QemuTool(qemuImgBinary, timeout, MAX_MAP_OUTPUT_BYTES);
    this.qemuIo = new QemuTool(qemuIoBinary, timeout, MAX_OTHER_OUTPUT_BYTES);
  }

  /**
   * Copies the whole disk an NBD export shows (raw) into a new qcow2 image.
   *
   * @param bytesPerSecond a cap on the copy's reading speed, or null for none
   */
  public CopyResult copyFull(String nbdUrl, String targetUrl, Long bytesPerSecond)
      throws QemuImgException {
    long dataBytes = dataBytes(map(List.of("map", "--output=json", "-f", "raw", nbdUrl)));
    qemuImg.run(convertArguments("raw", nbdUrl, targetUrl, bytesPerSecond)).orThrow();
    return new CopyResult(dataBytes);
  }

  /**
   * Copies only what changed since the export's checkpoint into a new qcow2 image backed by the
   * parent backup's image: together they hold the export's content.
   *
   * <p>The overlay is first backed by the export itself; reading each dirty extent through it with
   * copy-on-read pulls exactly those ranges in. Then its backing file is switched to the parent,
   * which holds the unchanged rest.
   *
   * @param dirtyBitmap the NBD metadata context of the disk's changes, e.g. {@code
   *     qemu:dirty-bitmap:backup-vda}
   * @param parentUrl the parent backup's image as an absolute URL (QEMU 7.2 does not resolve a
   *     relative backing file name over {@code nfs://})
   */
  public CopyResult copyIncremental(
      String nbdHost,
      int port,
      String export,
      String dirtyBitmap,
      String targetUrl,
      String parentUrl,
      long virtualSizeBytes)
      throws QemuImgException {
    List<Extent> dirty = dirtyExtents(map(dirtyMapArguments(nbdHost, port, export, dirtyBitmap)));
    String nbdUrl = nbdUrl(nbdHost, port, export);
    qemuImg.run(overlayArguments(nbdUrl, targetUrl, virtualSizeBytes)).orThrow();
    for (List<String> arguments : copyOnReadArguments(dirty, targetUrl)) {
      qemuIo.run(arguments).orThrow();
    }
    qemuImg.run(rebaseArguments(targetUrl, parentUrl)).orThrow();
    return new CopyResult(dirty.stream().mapToLong(Extent::length).sum());
  }

  /**
   * Copies a qcow2 image (with its backing chain, flattened) into a new qcow2 image: the disk of a
   * stopped domain, or a backup to restore.
   *
   * @param bytesPerSecond a cap on the copy's reading speed, or null for none
   */
  public CopyResult copyImage(String sourceUrl, String targetUrl, Long bytesPerSecond)
      throws QemuImgException {
    long dataBytes = dataBytes(map(List.of("map", "--output=json", "-f", "qcow2", sourceUrl)));
    qemuImg.run(convertArguments("qcow2", sourceUrl, targetUrl, bytesPerSecond)).orThrow();
    return new CopyResult(dataBytes);
  }

  /**
   * Whether a backup (qcow2, read through its backing chain) shows the same disk content as the
   * source; unallocated and zeroed ranges count as equal.
   *
   * @param sourceFormat {@code raw} for an NBD export, {@code qcow2} for an image
   */
  public boolean identical(String sourceUrl, String sourceFormat, String backupUrl)
      throws QemuImgException {
    QemuTool.Result result =
        qemuImg.run(List.of("compare", "-f", sourceFormat, "-F", "qcow2", sourceUrl, backupUrl));
    // qemu-img compare: 0 identical, 1 different, anything else an error.
    if (result.exitCode() > 1) {
      throw result.failure();
    }
    return result.exitCode() == 0;
  }

  /**
   * Checks a qcow2 image's metadata.
   *
   * @throws QemuImgException when qemu-img finds the image damaged or leaking, or cannot check it
   */
  public void check(String url) throws QemuImgException {
    QemuTool.Result result = qemuImg.run(List.of("check", "-f", "qcow2", url));
    if (result.exitCode() != 0) {
      // qemu-img reports what it found on stdout, only failures to check on stderr.
      String findings = (result.stdout() + "\n" + result.stderr()).strip();
      throw new QemuImgException(
          String.join(" ", result.command())
              + " failed (exit "
              + result.exitCode()
              + "): "
              + findings,
          result.exitCode(),
          result.stderr(),
          null);
    }
  }

  private String map(List<String> arguments) throws QemuImgException {
    return qemuImgMap.run(arguments).orThrow().stdout();
  }

  static List<String> convertArguments(
      String sourceFormat, String sourceUrl, String targetUrl, Long bytesPerSecond) {
    List<String> arguments = new ArrayList<>(List.of("convert", "-f", sourceFormat, "-O", "qcow2"));
    if (bytesPerSecond != null) {
      if (bytesPerSecond <= 0) {
        throw new IllegalArgumentException("bandwidth cap must be positive: " + bytesPerSecond);
      }
      arguments.addAll(List.of("-r", Long.toString(bytesPerSecond)));
    }
    arguments.addAll(List.of(sourceUrl, targetUrl));
    return arguments;
  }

  /**
   * {@code qemu-img map} of the export with the dirty bitmap as its block status: an nbd:// URL
   * cannot name a metadata context, so the export is given as options.
   */
  static List<String> dirtyMapArguments(
      String nbdHost, int port, String export, String dirtyBitmap) {
    String options =
        String.join(
            ",",
            "driver=nbd",
            "server.type=inet",
            "server.host=" + optionValue(nbdHost),
            "server.port=" + port,
            "export=" + optionValue(export),
            "x-dirty-bitmap=" + optionValue(dirtyBitmap));
    return List.of("map", "--output=json", "--image-opts", options);
  }

  static List<String> overlayArguments(String nbdUrl, String targetUrl, long virtualSizeBytes) {
    // -u: the export is only read later, through the overlay; nothing to check now.
    return List.of(
        "create",
        "-f",
        "qcow2",
        "-u",
        "-F",
        "raw",
        "-b",
        nbdUrl,
        targetUrl,
        Long.toString(virtualSizeBytes));
  }

  /**
   * {@code qemu-io} runs that read every extent through the overlay with copy-on-read: the reads go
   * out asynchronously in groups of at most {@link #MAX_BYTES_IN_FLIGHT}, each group waited for by
   * an {@code aio_flush}; a new process every {@link #MAX_COMMANDS_PER_PROCESS} commands.
   */
  static List<List<String>> copyOnReadArguments(List<Extent> extents, String overlayUrl) {
    List<List<String>> runs = new ArrayList<>();
    List<String> commands = new ArrayList<>();
    long inFlight = 0;
    for (Extent extent : extents) {
      for (long offset = extent.offset(); offset < extent.offset() + extent.length(); ) {
        long length = Math.min(MAX_READ_BYTES, extent.offset() + extent.length() - offset);
        if (inFlight + length > MAX_BYTES_IN_FLIGHT) {
          commands.add("aio_flush");
          inFlight = 0;
        }
        if (commands.size() >= MAX_COMMANDS_PER_PROCESS - 1) {
          commands.add("aio_flush");
          runs.add(qemuIoArguments(commands, overlayUrl));
          commands = new ArrayList<>();
          inFlight = 0;
        }
        commands.add("aio_read -q " + offset + " " + length);
        inFlight += length;
        offset += length;
      }
    }
    if (!commands.isEmpty()) {
      commands.add("aio_flush");
      runs.add(qemuIoArguments(commands, overlayUrl));
    }
    return runs;
  }

  private static List<String> qemuIoArguments(List<String> commands, String overlayUrl) {
    List<String> arguments = new ArrayList<>(List.of("-C", "-f", "qcow2"));
    for (String command : commands) {
      arguments.add("-c");
      arguments.add(command);
    }
    arguments.add(overlayUrl);
    return arguments;
  }

  static List<String> rebaseArguments(String targetUrl, String parentUrl) {
    // -u: only the backing file name changes; the parent holds what the overlay does not.
    return List.of("rebase", "-u", "-F", "qcow2", "-b", parentUrl, targetUrl);
  }

  static String nbdUrl(String host, int port, String export) {
    String address = host.contains(":") ? "[" + host + "]" : host;
    return "nbd://" + address + ":" + port + "/" + export;
  }

  /**
   * The dirty extents in {@code qemu-img map --output=json} of an export read through a dirty
   * bitmap. The bitmap's answer comes back inverted: dirty ranges are those {@code "data": false}.
   *
   * @throws QemuImgException when the output is not a map
   */
  static List<Extent> dirtyExtents(String mapJson) throws QemuImgException {
    List<Extent> dirty = new ArrayList<>();
    for (JsonNode entry : mapEntries(mapJson)) {
      if (!entry.get("data").asBoolean()) {
        Extent extent = new Extent(entry.get("start").asLong(), entry.get("length").asLong());
        Extent last = dirty.isEmpty() ? null : dirty.get(dirty.size() - 1);
        // Entries also split where other flags change: one read per contiguous range.
        if (last != null && last.offset() + last.length() == extent.offset()) {
          dirty.set(dirty.size() - 1, new Extent(last.offset(), last.length() + extent.length()));
        } else {
          dirty.add(extent);
        }
      }
    }
    return dirty;
  }

  /** The bytes a plain {@code qemu-img map --output=json} reports as data and not zero. */
  static long dataBytes(String mapJson) throws QemuImgException {
    long bytes = 0;
    for (JsonNode entry : mapEntries(mapJson)) {
      if (entry.get("data").asBoolean() && !entry.path("zero").asBoolean()) {
        bytes += entry.get("length").asLong();
      }
    }
    return bytes;
  }

  private static List<JsonNode> mapEntries(String mapJson) throws QemuImgException {
    JsonNode map;
    try {
      map = JSON.readTree(mapJson);
    } catch (IOException e) {
      throw new QemuImgException("unreadable qemu-img map output: " + e.getMessage(), 0, "", e);
    }
    if (map == null || !map.isArray()) {
      throw new QemuImgException("qemu-img map output is not a list of extents", 0, "", null);
    }
    List<JsonNode> entries = new ArrayList<>();
    for (JsonNode entry : map) {
      if (!entry.path("start").isNumber()
          || !entry.path("length").isNumber()
          || !entry.path("data").isBoolean()) {
        throw new QemuImgException("qemu-img map entry without start, length, data", 0, "", null);
      }
      entries.add(entry);
    }
    return entries;
  }

  /** QEMU's option syntax: a comma inside a value is written twice. */
  private static String optionValue(String value) {
    return value.replace(",", ",,");
  }
}
