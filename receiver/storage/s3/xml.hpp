#pragma once
// S3 answers in small XML documents (ListObjectsV2, InitiateMultipartUpload, errors). expat
// parses them into this minimal tree: elements with their text, no attributes (S3 puts none
// that we need) and no namespaces (the prefix-free local name is kept).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::receiver::s3 {

struct xml_node {
  std::string name;  // local name, without a namespace
  std::string text;  // character data directly inside, entities decoded
  std::vector<xml_node> children;

  /// The first child named `child`, or nullptr.
  const xml_node* find(std::string_view child) const;
  /// The text of the first child named `child`, or "" when there is none.
  std::string text_of(std::string_view child) const;
  /// Every child named `child`, in document order.
  std::vector<const xml_node*> all(std::string_view child) const;
};

/// The root element of `document`; nullopt when it is not well-formed XML.
std::optional<xml_node> parse_xml(std::string_view document);

}  // namespace pgship::receiver::s3
