import CYAML

/// The libyaml kuke reads and writes YAML with (Debian's libyaml-0-2, linked dynamically).
public enum YAMLLibrary {
    /// The version libyaml reports of itself (`0.2.5`).
    public static var version: String { String(cString: yaml_get_version_string()) }
}
