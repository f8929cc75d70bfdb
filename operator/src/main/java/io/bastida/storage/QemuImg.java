package io.bastida.storage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Creates and inspects disk images with the {@code qemu-img} binary (Debian: qemu-utils, plus
 * qemu-block-extra for {@code nfs://} URLs, which QEMU opens itself over libnfs as root).
 *
 * <p>Arguments are passed as a list, never through a shell; each run is bounded by a timeout and a
 * failure carries qemu-img's own message. Thread-safe.
 */
public final class QemuImg {

  /**
   * What {@code qemu-img info} says about an image.
   *
   * @param format the image format, e.g. {@code qcow2} or {@code raw}
   * @param virtualSizeBytes the disk size the guest sees
   * @param actualSizeBytes the space the image file occupies, or -1 if qemu-img cannot tell
   * @param savedStateBytes per internal snapshot, the guest RAM state it holds (0 for none)
   * @param backingFile the backing file its header names, or null for none
   */
  public record ImageInfo(
      String format,
      long virtualSizeBytes,
      long actualSizeBytes,
      Map<String, Long> savedStateBytes,
      String backingFile) {
    public ImageInfo {
      savedStateBytes = Map.copyOf(savedStateBytes);
    }

    public ImageInfo(String format, long virtualSizeBytes, long actualSizeBytes) {
      this(format, virtualSizeBytes, actualSizeBytes, Map.of(), null);
    }
  }

  /** qemu-img (or qemu-io) failed, timed out or could not be started. */
  public static final class QemuImgException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The exit code, or -1 if qemu-img did not exit by itself. */
    private final int exitCode;

    private final String stderr;

    QemuImgException(String message, int exitCode, String stderr, Throwable cause) {
      super(message, cause);
      this.exitCode = exitCode;
      this.stderr = stderr;
    }

    public int exitCode() {
      return exitCode;
    }

    /** qemu-img's error output, trimmed; empty if it did not run. */
    public String stderr() {
      return stderr;
    }
  }

  private static final String DEFAULT_BINARY = "qemu-img";
  private static final int MAX_OUTPUT_BYTES = 1024 * 1024;
  private static final int MAX_FILE_NAME_LENGTH = 255;
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9._-]+");
  private static final Pattern PATH_SEGMENT = Pattern.compile("[A-Za-z0-9._-]+");
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final QemuTool qemuImg;

  /** Runs {@code qemu-img} from the PATH; {@code timeout} bounds each run. */
  public QemuImg(Duration timeout) {
    this(DEFAULT_BINARY, timeout);
  }

  public QemuImg(String binary, Duration timeout) {
    this.qemuImg = new QemuTool(binary, timeout, MAX_OUTPUT_BYTES);
  }

  /**
   * {@code nfs://server/export/path/file}, from parts that are checked rather than escaped: a host
   * name or IPv4 address, an absolute export path and a file name made of {@code [A-Za-z0-9._-]}.
   *
   * @throws IllegalArgumentException if a part does not qualify
   */
  public static String nfsUrl(String server, String exportPath, String file) {
    checkFileName(file);
    return nfsPathUrl(server, exportPath, file);
  }

  /**
   * {@code nfs://server/export/a/b/file} for a file in folders below the export, each part checked
   * like {@link #nfsUrl}'s file name.
   */
  public static String nfsPathUrl(String server, String exportPath, String relativePath) {
    if (server == null || server.length() > 253 || !HOST.matcher(server).matches()) {
      // IPv6 literals too: QEMU 7.2 passes "[fd00::1]" on to libnfs, which cannot resolve it.
      throw new IllegalArgumentException(
          "NFS server must be a host name or IPv4 address for an nfs:// URL: " + server);
    }
    String export = checkExportPath(exportPath);
    for (String part : relativePath.split("/", -1)) {
      checkFileName(part);
      if (part.equals(".") || part.equals("..")) {
        throw new IllegalArgumentException("NFS path must not climb: " + relativePath);
      }
    }
    return "nfs://" + server + export + "/" + relativePath;
  }

  /**
   * Creates an empty thin qcow2 image of {@code sizeBytes} (qemu-img rounds it up to a multiple of
   * 512). Refuses to overwrite: {@code qemu-img create} would truncate an existing image. The check
   * and the creation are two steps, so two callers racing on one name are not excluded.
   *
   * @throws FileAlreadyExistsException if something exists at {@code url} already
   * @throws QemuImgException if qemu-img fails
   */
  public void create(String url, long sizeBytes) throws IOException {
    if (sizeBytes <= 0) {
      throw new IllegalArgumentException("image size must be positive: " + sizeBytes);
    }
    if (info(url).isPresent()) {
      throw new FileAlreadyExistsException(url, null, "image exists, not overwriting it");
    }
    QemuTool.Result result = qemuImg.run(createArguments(url, sizeBytes));
    if (result.exitCode() != 0) {
      throw result.failure();
    }
  }

  /**
   * Format and sizes of the image at {@code url}, or empty if there is no such file. Any other
   * failure (unreachable server, refused export, unreadable image) is an exception.
   */
  public Optional<ImageInfo> info(String url) throws QemuImgException {
    QemuTool.Result result = qemuImg.run(infoArguments(url));
    if (result.exitCode() != 0) {
      if (isNoSuchFile(result.stderr())) {
        return Optional.empty();
      }
      throw result.failure();
    }
    try {
      return Optional.of(parseInfo(result.stdout()));
    } catch (IOException e) {
      throw new QemuImgException(
          result.command() + ": cannot read its output: " + e.getMessage(), 0, "", e);
    }
  }

  /**
   * Copies a local raw image to {@code url} byte for byte ({@code -S 0}: without it, zero runs are
   * skipped and an overwritten file would keep its old bytes there).
   */
  public void upload(java.nio.file.Path rawImage, String url) throws QemuImgException {
    QemuTool.Result result =
        qemuImg.run(
            List.of("convert", "-S", "0", "-f", "raw", "-O", "raw", rawImage.toString(), url));
    if (result.exitCode() != 0) {
      throw result.failure();
    }
  }

  /**
   * Points a qcow2 image at another backing file without touching its data ({@code rebase -u}): for
   * a chain whose files moved, the new file must hold what the old one did.
   */
  public void rebaseUnsafe(String url, String backingUrl) throws QemuImgException {
    QemuTool.Result result =
        qemuImg.run(List.of("rebase", "-u", "-F", "qcow2", "-b", backingUrl, url));
    if (result.exitCode() != 0) {
      throw result.failure();
    }
  }

  /**
   * A qcow2 image at {@code url} made from the qcow2 template at {@code templateUrl}: an overlay
   * backed by it (linked), or a full copy.
   */
  public void createFrom(String templateUrl, String url, boolean linked) throws IOException {
    if (info(url).isPresent()) {
      throw new FileAlreadyExistsException(url, null, "image exists, not overwriting it");
    }
    List<String> arguments =
        linked
            ? List.of("create", "-f", "qcow2", "-b", templateUrl, "-F", "qcow2", url)
            : List.of("convert", "-f", "qcow2", "-O", "qcow2", templateUrl, url);
    QemuTool.Result result = qemuImg.run(arguments);
    if (result.exitCode() != 0) {
      throw result.failure();
    }
  }

  static List<String> createArguments(String url, long sizeBytes) {
    return List.of(
        "create", "-f", "qcow2", "-o", "preallocation=off", url, Long.toString(sizeBytes));
  }

  static List<String> infoArguments(String url) {
    // -U: read the image even while a running guest holds its lock (file images; nfs has none).
    return List.of("info", "-U", "--output=json", url);
  }

  /** Parses {@code qemu-img info --output=json}. */
  static ImageInfo parseInfo(String json) throws IOException {
    JsonNode info = JSON.readTree(json);
    if (info == null || !info.path("format").isTextual() || !info.path("virtual-size").isNumber()) {
      throw new IOException("no format and virtual-size in qemu-img info output");
    }
    JsonNode actual = info.path("actual-size");
    Map<String, Long> savedState = new java.util.LinkedHashMap<>();
    for (JsonNode snapshot : info.path("snapshots")) {
      savedState.put(snapshot.path("name").asText(), snapshot.path("vm-state-size").asLong());
    }
    return new ImageInfo(
        info.get("format").asText(),
        info.get("virtual-size").asLong(),
        actual.isNumber() ? actual.asLong() : -1,
        savedState,
        info.path("backing-filename").isTextual() ? info.get("backing-filename").asText() : null);
  }

  /**
   * Whether qemu-img failed because the file is not there: {@code NFS3ERR_NOENT} from libnfs, or
   * ENOENT for a local path. A MOUNT refusal also names ENOENT, but means the export is missing.
   */
  static boolean isNoSuchFile(String stderr) {
    if (stderr.contains("Failed to mount")) {
      return false;
    }
    return stderr.contains("NFS3ERR_NOENT") || stderr.contains("No such file or directory");
  }

  private static String checkExportPath(String exportPath) {
    String path = exportPath == null ? "" : exportPath;
    while (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    if (!path.startsWith("/") || path.length() == 1) {
      throw new IllegalArgumentException(
          "NFS export path must be absolute and not / for an nfs:// URL: " + exportPath);
    }
    for (String segment : path.substring(1).split("/", -1)) {
      if (!PATH_SEGMENT.matcher(segment).matches() || segment.equals(".") || segment.equals("..")) {
        throw new IllegalArgumentException(
            "NFS export path may only hold [A-Za-z0-9._-] names between slashes: " + exportPath);
      }
    }
    return path;
  }

  private static void checkFileName(String file) {
    if (file == null
        || file.length() > MAX_FILE_NAME_LENGTH
        || !FILE_NAME.matcher(file).matches()
        || file.contains("..")
        || file.equals(".")) {
      throw new IllegalArgumentException(
          "image file name must be 1 to 255 of [A-Za-z0-9._-], without '..': " + file);
    }
  }
}
