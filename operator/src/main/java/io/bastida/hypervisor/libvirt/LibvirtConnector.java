package io.bastida.hypervisor.libvirt;

import io.bastida.hypervisor.ConnectionTarget;
import io.bastida.hypervisor.Credentials;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorConnector;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.hypervisor.HypervisorException.Failure;
import io.bastida.hypervisor.LibvirtUri;
import io.bastida.hypervisor.LibvirtUri.Transport;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import org.libvirt.Connect;
import org.libvirt.ConnectAuth;
import org.libvirt.LibvirtException;

/** Opens libvirt connections over libvirt-java, with credentials written to private files. */
public final class LibvirtConnector implements HypervisorConnector, AutoCloseable {
  private static final int KEEPALIVE_INTERVAL_SECONDS = 5;
  private static final int KEEPALIVE_MISSED_BEFORE_CLOSE = 3;

  private final Duration reachTimeout;
  private final CredentialFiles credentialFiles = new CredentialFiles();

  /**
   * @param reachTimeout how long to wait for a network host's port to answer before calling it
   *     unreachable; libvirt itself would wait for the operating system's TCP timeout (minutes)
   */
  public LibvirtConnector(Duration reachTimeout) {
    this.reachTimeout = reachTimeout;
  }

  @Override
  public Hypervisor open(String hostName, ConnectionTarget target) throws HypervisorException {
    LibvirtEventLoop.ensureStarted();
    LibvirtUri uri = target.uri();
    if (uri.transport().isNetwork()) {
      checkReachable(uri);
    }
    Path privateDir = null;
    try {
      LibvirtUri effective = uri;
      String username = null;
      String password = null;
      Credentials credentials = target.credentials();
      if (credentials instanceof Credentials.SshKey key) {
        privateDir = credentialFiles.newDirectory(hostName);
        Path keyFile = CredentialFiles.writePrivate(privateDir, "id", key.privateKey());
        effective = effective.withParam("keyfile", keyFile.toString());
        String knownHosts = null;
        if (target.insecureSkipHostKeyVerification()) {
          // Never let an unverified key land in the operator's known_hosts for later Hosts.
          knownHosts = "/dev/null";
        } else if (key.knownHosts() != null) {
          knownHosts =
              CredentialFiles.writePrivate(privateDir, "known_hosts", key.knownHosts()).toString();
        }
        if (knownHosts != null) {
          effective =
              effective.withParam(
                  "command", CredentialFiles.sshWrapper(privateDir, knownHosts).toString());
        }
      } else if (credentials instanceof Credentials.TlsMaterial tls) {
        // libvirt looks for these exact file names in pkipath.
        privateDir = credentialFiles.newDirectory(hostName);
        CredentialFiles.writePrivate(privateDir, "cacert.pem", tls.caCertificate());
        CredentialFiles.writePrivate(privateDir, "clientcert.pem", tls.clientCertificate());
        CredentialFiles.writePrivate(privateDir, "clientkey.pem", tls.clientKey());
        effective = effective.withParam("pkipath", privateDir.toString());
      } else if (credentials instanceof Credentials.SaslLogin login) {
        username = login.username();
        password = login.password();
      }
      if (uri.transport() == Transport.SSH) {
        // Never prompt: an unknown host key or a passphrase must fail, not hang.
        effective = effective.withParam("no_tty", "1");
        if (target.insecureSkipHostKeyVerification()) {
          effective = effective.withParam("no_verify", "1");
        }
      }
      String effectiveUri = effective.toString();
      LoginAuth auth = new LoginAuth(username, password);
      LibvirtHypervisor.Opener opener = () -> connect(effectiveUri, auth);
      return new LibvirtHypervisor(hostName, opener.open(), opener, privateDir);
    } catch (LibvirtException e) {
      deleteQuietly(privateDir);
      throw LibvirtErrors.classify("connect to " + uri, e);
    } catch (IOException e) {
      deleteQuietly(privateDir);
      throw new HypervisorException(
          Failure.ConnectionFailed, "cannot write credential files: " + e.getMessage(), e);
    }
  }

  private static Connect connect(String uri, ConnectAuth auth) throws LibvirtException {
    Connect connect = new Connect(uri, auth, 0);
    try {
      connect.setKeepAlive(KEEPALIVE_INTERVAL_SECONDS, KEEPALIVE_MISSED_BEFORE_CLOSE);
    } catch (LibvirtException localDriverHasNoKeepalive) {
      // in-process drivers (test:///) cannot lose their connection
    }
    return connect;
  }

  private void checkReachable(LibvirtUri uri) throws HypervisorException {
    String where = uri.host() + ":" + uri.effectivePort();
    try (Socket socket = new Socket()) {
      socket.connect(
          new InetSocketAddress(uri.host(), uri.effectivePort()), (int) reachTimeout.toMillis());
    } catch (NoRouteToHostException e) {
      throw new HypervisorException(Failure.HostUnreachable, "no route to " + where, e);
    } catch (ConnectException e) {
      if (String.valueOf(e.getMessage()).contains("unreachable")) {
        throw new HypervisorException(Failure.HostUnreachable, "network unreachable: " + where, e);
      }
      throw new HypervisorException(
          Failure.ConnectionRefused,
          "connection refused by " + where + " (is libvirtd listening there?)",
          e);
    } catch (SocketTimeoutException e) {
      throw new HypervisorException(
          Failure.HostUnreachable,
          "no answer from " + where + " within " + reachTimeout.toSeconds() + "s",
          e);
    } catch (UnknownHostException e) {
      throw new HypervisorException(Failure.HostUnreachable, "unknown host name " + uri.host(), e);
    } catch (IOException e) {
      throw new HypervisorException(
          Failure.HostUnreachable, "cannot reach " + where + ": " + e.getMessage(), e);
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir != null) {
      CredentialFiles.deleteRecursively(dir);
    }
  }

  @Override
  public void close() {
    credentialFiles.close();
  }

  /** Answers SASL prompts from the Secret; anything else fails instead of prompting on stdin. */
  private static final class LoginAuth extends ConnectAuth {
    private final String username;
    private final String password;

    LoginAuth(String username, String password) {
      this.username = username;
      this.password = password;
      credType =
          new CredentialType[] {
            CredentialType.VIR_CRED_AUTHNAME,
            CredentialType.VIR_CRED_USERNAME,
            CredentialType.VIR_CRED_PASSPHRASE
          };
    }

    @Override
    public int callback(Credential[] credentials) {
      for (Credential credential : credentials) {
        String answer =
            switch (credential.type) {
              case VIR_CRED_AUTHNAME, VIR_CRED_USERNAME -> username;
              case VIR_CRED_PASSPHRASE -> password;
              default -> null;
            };
        if (answer == null) {
          return -1;
        }
        credential.result = answer;
      }
      return 0;
    }
  }
}
