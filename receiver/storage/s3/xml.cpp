#include "storage/s3/xml.hpp"

#include <expat.h>

namespace pgship::receiver::s3 {
namespace {

struct builder {
  xml_node root;
  std::vector<xml_node*> open;  // the path from the root to the current element
};

std::string local_name(const char* name) {
  const std::string_view n(name);
  const auto colon = n.rfind(':');
  return std::string(colon == std::string_view::npos ? n : n.substr(colon + 1));
}

void on_start(void* data, const char* name, const char**) {
  auto& b = *static_cast<builder*>(data);
  if (b.open.empty()) {
    b.root.name = local_name(name);
    b.open.push_back(&b.root);
    return;
  }
  auto& parent = *b.open.back();
  parent.children.push_back(xml_node{local_name(name), {}, {}});
  b.open.push_back(&parent.children.back());
}

void on_end(void* data, const char*) {
  static_cast<builder*>(data)->open.pop_back();
}

void on_text(void* data, const char* s, int len) {
  auto& b = *static_cast<builder*>(data);
  if (!b.open.empty()) b.open.back()->text.append(s, static_cast<std::size_t>(len));
}

}  // namespace

const xml_node* xml_node::find(std::string_view child) const {
  for (const auto& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::string xml_node::text_of(std::string_view child) const {
  const auto* c = find(child);
  return c ? c->text : std::string();
}

std::vector<const xml_node*> xml_node::all(std::string_view child) const {
  std::vector<const xml_node*> out;
  for (const auto& c : children) {
    if (c.name == child) out.push_back(&c);
  }
  return out;
}

std::optional<xml_node> parse_xml(std::string_view document) {
  builder b;
  // Namespace processing off: names arrive as written ("ns:Key" → "Key" by local_name).
  XML_Parser parser = XML_ParserCreate(nullptr);
  if (!parser) return std::nullopt;
  XML_SetUserData(parser, &b);
  XML_SetElementHandler(parser, on_start, on_end);
  XML_SetCharacterDataHandler(parser, on_text);
  const bool ok =
      XML_Parse(parser, document.data(), static_cast<int>(document.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(parser);
  if (!ok || b.root.name.empty()) return std::nullopt;
  return std::move(b.root);
}

}  // namespace pgship::receiver::s3
