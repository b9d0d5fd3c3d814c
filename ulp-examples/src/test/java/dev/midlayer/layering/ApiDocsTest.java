package dev.midlayer.layering;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The Javadoc rule of {@link ApiDocs} over the main code of every module, and proof that it fails on a fixture
 * (under {@code src/test/resources/apidocs-broken}) that breaks it each way.
 */
class ApiDocsTest {
  /** Surefire runs in the module's directory; the other modules are its siblings. */
  private static final List<Path> MAIN_SOURCES = List.of(Path.of("../core/src/main/java"),
      Path.of("../drivers/src/main/java"), Path.of("../testkit/src/main/java"), Path.of("src/main/java"));

  @Test
  @DisplayName("every public method says whether it may sleep and from which threads")
  void mainCodeKeepsTheRule() throws Exception {
    for (Path p : MAIN_SOURCES) {
      assertTrue(Files.isDirectory(p), p.toAbsolutePath() + " exists");
    }
    List<ApiDocs.Finding> findings = ApiDocs.check(MAIN_SOURCES);
    assertTrue(findings.isEmpty(), findings.size() + " public methods break the rule:\n"
        + findings.stream().map(Object::toString).collect(Collectors.joining("\n")));
  }

  @Test
  @DisplayName("the rule fails on a method without Javadoc, without a word on sleeping, without one on threads")
  void eachBreachIsFound() throws Exception {
    Path fixture = Path.of(ApiDocsTest.class.getResource("/apidocs-broken").toURI());
    List<String> found = ApiDocs.check(List.of(fixture)).stream().map(Object::toString).sorted().toList();
    assertEquals(List.of(
        "Broken.java:11 Broken.saysNothingOfThreads: does not say from which threads it may be called",
        "Broken.java:16 Broken(...): no Javadoc",
        "Broken.java:29 Nested.undocumentedInInterface: no Javadoc",
        "Broken.java:5 Broken.undocumented: no Javadoc",
        "Broken.java:8 Broken.saysNothingOfSleeping: does not say whether it may sleep"), found);
  }
}
