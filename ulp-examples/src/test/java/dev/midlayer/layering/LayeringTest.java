package dev.midlayer.layering;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The layering of the project's main code ({@link Layering}), and proof that each rule fails on code that
 * breaks it: the fixture under {@code dev.midlayer.layering.broken} breaks every one on purpose.
 */
class LayeringTest {
  private static final JavaClasses MAIN = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages("dev.midlayer");

  private static final String BROKEN = "dev.midlayer.layering.broken";
  private static final JavaClasses BROKEN_CLASSES = new ClassFileImporter().importPackages(BROKEN);

  @TestFactory
  @DisplayName("the main code keeps every layering rule")
  Stream<DynamicTest> mainCodeKeepsTheLayers() {
    for (String p : new String[] {"dev.midlayer.ib", "dev.midlayer.spi", "dev.midlayer.internal.verbs",
        "dev.midlayer.drivers.loopback", "dev.midlayer.testkit", "dev.midlayer.cli"}) {
      assertTrue(MAIN.stream().anyMatch(c -> c.getPackageName().equals(p)), "classes of " + p + " were imported");
    }
    return Layering.rules("dev.midlayer").entrySet().stream()
        .map(e -> DynamicTest.dynamicTest(e.getKey(), () -> e.getValue().check(MAIN)));
  }

  @TestFactory
  @DisplayName("each layering rule fails on a fixture that breaks it")
  Stream<DynamicTest> eachRuleCanFail() {
    Map<String, ArchRule> rules = Layering.rules(BROKEN);
    return rules.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
      AssertionError failure = assertThrows(AssertionError.class, () -> e.getValue().check(BROKEN_CLASSES));
      assertTrue(failure.getMessage().contains("was violated"), failure.getMessage());
    }));
  }

  @Test
  @DisplayName("the listed cycle edge is the extension bootstrap, and it exists")
  void listedEdgeExists() {
    assertTrue(MAIN.get("dev.midlayer.MidlayerId").getDirectDependenciesFromSelf().stream()
        .anyMatch(d -> Layering.edge(d).equals("MidlayerId -> MidlayerImpl")),
        "the allowance in Layering.ALLOWED_CYCLE_EDGES matches a real dependency; drop it if it does not");
  }
}
