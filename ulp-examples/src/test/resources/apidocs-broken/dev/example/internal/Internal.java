package dev.example.internal;

public class Internal {
  public void internalPackagesAreNotApi() {}
}
