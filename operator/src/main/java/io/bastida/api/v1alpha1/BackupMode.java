package io.bastida.api.v1alpha1;

/** How much a backup copies: every block, or only what changed since its parent backup. */
public enum BackupMode {
  Full,
  Incremental
}
