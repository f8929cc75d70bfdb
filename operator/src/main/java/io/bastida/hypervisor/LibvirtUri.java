package io.bastida.hypervisor;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A libvirt connection URI ({@code driver[+transport]://[user@][host][:port]/path[?params]}),
 * checked beyond what the CRD can say and extended with the parameters Bastida adds (key files, PKI
 * paths).
 */
public record LibvirtUri(
    String driver,
    Transport transport,
    String user,
    String host,
    int port,
    String path,
    Map<String, String> params) {

  /** How libvirt reaches the daemon. */
  public enum Transport {
    /** In-process (test driver) or the local daemon's default socket. */
    LOCAL("", -1),
    UNIX("unix", -1),
    TCP("tcp", 16509),
    TLS("tls", 16514),
    SSH("ssh", 22);

    private final String schemeSuffix;
    private final int defaultPort;

    Transport(String schemeSuffix, int defaultPort) {
      this.schemeSuffix = schemeSuffix;
      this.defaultPort = defaultPort;
    }

    /** Whether the daemon is reached over the network (and so can be unreachable). */
    public boolean isNetwork() {
      return defaultPort > 0;
    }
  }

  private static final Set<String> DRIVERS = Set.of("qemu", "test");

  /**
   * Parameters Bastida sets itself from the Host's credentials: taken from a URI they would read
   * local files, run local commands or skip host key checks.
   */
  public static final Set<String> RESERVED_PARAMS =
      Set.of(
          "keyfile",
          "command",
          "no_verify",
          "pkipath",
          "known_hosts",
          "known_hosts_verify",
          "sshauth");

  public LibvirtUri {
    params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
  }

  /**
   * Parses and checks a URI.
   *
   * @throws IllegalArgumentException with a message a user can act on
   */
  public static LibvirtUri parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("the URI is empty");
    }
    URI uri;
    try {
      uri = new URI(text.strip());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a valid URI: " + e.getReason());
    }
    String scheme = Optional.ofNullable(uri.getScheme()).orElse("");
    String[] parts = scheme.split("\\+", 2);
    String driver = parts[0];
    if (!DRIVERS.contains(driver)) {
      throw new IllegalArgumentException(
          "unsupported driver '" + driver + "': Bastida manages qemu hosts (test for tests)");
    }
    Transport transport = transportOf(parts.length == 2 ? parts[1] : "");
    if (driver.equals("test") && transport != Transport.LOCAL) {
      throw new IllegalArgumentException("the test driver runs in-process: use test:///...");
    }
    String host = uri.getHost();
    if (transport.isNetwork() && (host == null || host.isEmpty())) {
      throw new IllegalArgumentException(
          scheme + " needs a host name, e.g. " + scheme + "://host1.example.org/system");
    }
    if (!transport.isNetwork() && host != null && !host.isEmpty()) {
      throw new IllegalArgumentException(
          "a host name needs a network transport: use qemu+ssh://, qemu+tls:// or qemu+tcp://");
    }
    String path = Optional.ofNullable(uri.getPath()).orElse("");
    if (driver.equals("qemu") && !path.equals("/system") && !path.equals("/session")) {
      throw new IllegalArgumentException("a qemu URI ends in /system (or /session), not " + path);
    }
    if (driver.equals("test") && path.length() < 2) {
      throw new IllegalArgumentException("a test URI names a node: test:///default");
    }
    Map<String, String> params = parseQuery(uri.getRawQuery());
    for (String reserved : RESERVED_PARAMS) {
      if (params.containsKey(reserved)) {
        throw new IllegalArgumentException(
            "the URI must not set '"
                + reserved
                + "': Bastida sets it from spec.credentialsSecretRef and"
                + " spec.insecureSkipHostKeyVerification");
      }
    }
    return new LibvirtUri(driver, transport, uri.getUserInfo(), host, uri.getPort(), path, params);
  }

  private static Transport transportOf(String suffix) {
    for (Transport t : Transport.values()) {
      if (t.schemeSuffix.equals(suffix)) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        "unsupported transport '" + suffix + "': use unix, tcp, tls or ssh");
  }

  private static Map<String, String> parseQuery(String rawQuery) {
    Map<String, String> params = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return params;
    }
    for (String pair : rawQuery.split("&")) {
      String[] kv = pair.split("=", 2);
      params.put(decode(kv[0]), kv.length == 2 ? decode(kv[1]) : "");
    }
    return params;
  }

  /** The port the daemon listens on, or -1 when it is not reached over the network. */
  public int effectivePort() {
    return port > 0 ? port : transport.defaultPort;
  }

  public LibvirtUri withParam(String name, String value) {
    Map<String, String> copy = new LinkedHashMap<>(params);
    copy.put(name, value);
    return new LibvirtUri(driver, transport, user, host, port, path, copy);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(driver);
    if (transport != Transport.LOCAL) {
      sb.append('+').append(transport.schemeSuffix);
    }
    sb.append("://");
    if (user != null) {
      sb.append(user).append('@');
    }
    if (host != null) {
      sb.append(host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host);
    }
    if (port > 0) {
      sb.append(':').append(port);
    }
    sb.append(path);
    if (!params.isEmpty()) {
      sb.append('?')
          .append(
              params.entrySet().stream()
                  .map(e -> encode(e.getKey()) + "=" + encode(e.getValue()))
                  .collect(Collectors.joining("&")));
    }
    return sb.toString();
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  // libvirt reads paths in parameters literally: keep '/' readable.
  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("%2F", "/");
  }
}
