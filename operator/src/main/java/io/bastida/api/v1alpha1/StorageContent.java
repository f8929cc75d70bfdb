package io.bastida.api.v1alpha1;

/** What a storage domain may hold. */
public enum StorageContent {
  Disks,
  ISO,
  Backups
}
