package dev.example;

/** A fixture for ApiDocsTest: it breaks the rule of ApiDocs once each way (parsed, never compiled). */
public class Broken {
  public void undocumented() {}

  /** Does a thing, from any thread. */
  public void saysNothingOfSleeping() {}

  /** Never blocks. */
  public void saysNothingOfThreads() {}

  /** Never blocks; any thread. */
  public void keepsTheRule() {}

  public Broken() {}

  @Override
  public String toString() {
    return "an override inherits its comment";
  }

  private void notApi() {}

  void packagePrivateIsNotApi() {}

  /** Members of this interface are public. */
  public interface Nested {
    void undocumentedInInterface();

    private void privateInInterface() {}
  }

  /** Every method of this type never blocks and may be called from any thread. */
  public static final class CoveredByItsType {
    /** The rule stated by the type covers it. */
    public int covered() {
      return 0;
    }
  }
}

class Hidden {
  public void notApiEither() {}
}
