#include "imret/core/pickle.hpp"

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "imret/core/error.hpp"

namespace imret::pickle {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
  }
  return "?";
}

namespace {

std::string opcode_text(unsigned char op) {
  char buffer[32];
  if (op >= 0x20 && op < 0x7f)
    std::snprintf(buffer, sizeof buffer, "0x%02x ('%c')", op, op);
  else
    std::snprintf(buffer, sizeof buffer, "0x%02x", op);
  return buffer;
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, size_t offset, Arena& arena, const Hooks& hooks, const std::string& name)
      : bytes_(bytes), at_(offset), arena_(arena), hooks_(hooks), name_(name) {}

  Value* run();
  size_t offset() const { return at_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ": " + what + " (pickle offset " + std::to_string(op_offset_) + ")");
  }
  void need(uint64_t count) const {
    if (count > bytes_.size() - at_) throw Error(name_ + ": truncated pickle (file ends inside it)");
  }
  uint64_t read_uint(int width) {
    need(static_cast<uint64_t>(width));
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += static_cast<size_t>(width);
    return value;
  }
  std::string read_bytes(uint64_t count) {
    need(count);
    std::string text(bytes_.substr(at_, static_cast<size_t>(count)));
    at_ += static_cast<size_t>(count);
    return text;
  }
  std::string read_line() {
    const size_t end = bytes_.find('\n', at_);
    if (end == std::string_view::npos) throw Error(name_ + ": truncated pickle (file ends inside it)");
    std::string line(bytes_.substr(at_, end - at_));
    at_ = end + 1;
    return line;
  }

  Value* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
    return stack_.back();
  }
  // The values above the last MARK (which is removed).
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("pickle uses a MARK that was never set");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Value* make(Kind kind) { return arena_.make(kind); }
  Value* make_tuple(std::vector<Value*> items) {
    Value* v = make(Kind::Tuple);
    v->items = std::move(items);
    return v;
  }
  Value* make_int(int64_t i) {
    Value* v = make(Kind::Int);
    v->integer = i;
    return v;
  }
  Value* make_long(const std::string& le) {
    if (le.size() <= 8) {
      uint64_t u = 0;
      for (size_t i = le.size(); i-- > 0;) u = (u << 8) | static_cast<unsigned char>(le[i]);
      if (!le.empty() && le.size() < 8 && (static_cast<unsigned char>(le.back()) & 0x80))
        u |= ~uint64_t{0} << (8 * le.size());  // sign-extend
      return make_int(static_cast<int64_t>(u));
    }
    Value* v = make(Kind::BigInt);
    v->text = le;
    return v;
  }
  void set_item(Value* dict, Value* key, Value* value) {
    if (dict->kind != Kind::Dict) fail(std::string("pickle sets an item on a ") + kind_name(dict->kind));
    if (key->kind == Kind::String) {
      auto& index = dict_index_[dict];
      auto found = index.find(key->text);
      if (found != index.end()) {
        dict->entries[found->second].second = value;
        return;
      }
      index.emplace(key->text, dict->entries.size());
    }
    dict->entries.emplace_back(key, value);
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  Value* memo_get(uint64_t index) {
    auto found = memo_.find(index);
    if (found == memo_.end()) fail("pickle refers to memo entry " + std::to_string(index) + " that was never stored");
    return found->second;
  }
  Value* global(const std::string& module, const std::string& name) {
    if (!hooks_.allow_global || !hooks_.allow_global(module, name))
      throw Error(name_ + ": pickle asks for global '" + module + "." + name + "', which imret does not load");
    Value* v = make(Kind::Global);
    v->text = module + "." + name;
    return v;
  }
  Value* reduce(Value* callable, Value* args) {
    if (callable->kind != Kind::Global) fail(std::string("pickle calls a ") + kind_name(callable->kind));
    if (args->kind != Kind::Tuple) fail(std::string("pickle calls '") + callable->text + "' with a " + kind_name(args->kind));
    if (!hooks_.reduce) fail("pickle calls '" + callable->text + "', which imret does not call");
    Value* result = hooks_.reduce(arena_, callable, args);
    if (!result) fail("pickle calls '" + callable->text + "', which imret does not call");
    return result;
  }

  std::string_view bytes_;
  size_t at_;
  size_t op_offset_ = 0;
  Arena& arena_;
  const Hooks& hooks_;
  const std::string& name_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::unordered_map<const Value*, std::unordered_map<std::string, size_t>> dict_index_;
};

Value* Unpickler::run() {
  for (;;) {
    op_offset_ = at_;
    need(1);
    const unsigned char op = static_cast<unsigned char>(bytes_[at_++]);
    switch (op) {
      case 0x80:  // PROTO
        if (read_uint(1) > 5) fail("unsupported pickle protocol");
        break;
      case 0x95:  // FRAME: only a hint for buffering
        read_uint(8);
        break;
      case '.': {  // STOP
        Value* result = pop();
        return result;
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        pop();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        stack_.push_back(top());
        break;
      case 'N':
        stack_.push_back(make(Kind::None));
        break;
      case 0x88:  // NEWTRUE
      case 0x89: {  // NEWFALSE
        Value* v = make(Kind::Bool);
        v->boolean = op == 0x88;
        stack_.push_back(v);
        break;
      }
      case 'J':  // BININT
        stack_.push_back(make_int(static_cast<int32_t>(static_cast<uint32_t>(read_uint(4)))));
        break;
      case 'K':  // BININT1
        stack_.push_back(make_int(static_cast<int64_t>(read_uint(1))));
        break;
      case 'M':  // BININT2
        stack_.push_back(make_int(static_cast<int64_t>(read_uint(2))));
        break;
      case 0x8a:  // LONG1
        stack_.push_back(make_long(read_bytes(read_uint(1))));
        break;
      case 0x8b: {  // LONG4
        const uint64_t length = read_uint(4);
        if (length & 0x80000000u) fail("negative LONG4 length");
        stack_.push_back(make_long(read_bytes(length)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        need(8);
        uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
        at_ += 8;
        Value* v = make(Kind::Float);
        std::memcpy(&v->real, &u, sizeof u);
        stack_.push_back(v);
        break;
      }
      case 'X':     // BINUNICODE
      case 0x8c:    // SHORT_BINUNICODE
      case 0x8d:    // BINUNICODE8
      case 'T':     // BINSTRING (Python 2 str)
      case 'U': {   // SHORT_BINSTRING
        const int width = (op == 0x8c || op == 'U') ? 1 : op == 0x8d ? 8 : 4;
        Value* v = make(Kind::String);
        v->text = read_bytes(read_uint(width));
        stack_.push_back(v);
        break;
      }
      case 'B':     // BINBYTES
      case 'C':     // SHORT_BINBYTES
      case 0x8e: {  // BINBYTES8
        const int width = op == 'C' ? 1 : op == 0x8e ? 8 : 4;
        Value* v = make(Kind::Bytes);
        v->text = read_bytes(read_uint(width));
        stack_.push_back(v);
        break;
      }
      case '}':  // EMPTY_DICT
        stack_.push_back(make(Kind::Dict));
        break;
      case ']':  // EMPTY_LIST
        stack_.push_back(make(Kind::List));
        break;
      case ')':  // EMPTY_TUPLE
        stack_.push_back(make(Kind::Tuple));
        break;
      case 'd': {  // DICT
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("pickle DICT with an odd number of items");
        Value* dict = make(Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        stack_.push_back(dict);
        break;
      }
      case 'l': {  // LIST
        Value* list = make(Kind::List);
        list->items = pop_mark();
        stack_.push_back(list);
        break;
      }
      case 't':  // TUPLE
        stack_.push_back(make_tuple(pop_mark()));
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87: {  // TUPLE3
        std::vector<Value*> items(static_cast<size_t>(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        stack_.push_back(make_tuple(std::move(items)));
        break;
      }
      case 'q':  // BINPUT
        memo_put(read_uint(1));
        break;
      case 'r':  // LONG_BINPUT
        memo_put(read_uint(4));
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        break;
      case 'h':  // BINGET
        stack_.push_back(memo_get(read_uint(1)));
        break;
      case 'j':  // LONG_BINGET
        stack_.push_back(memo_get(read_uint(4)));
        break;
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        set_item(top(), key, value);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value*> items = pop_mark();
        if (items.size() % 2) fail("pickle SETITEMS with an odd number of items");
        Value* dict = top();
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        break;
      }
      case 'a': {  // APPEND
        Value* value = pop();
        Value* list = top();
        if (list->kind != Kind::List) fail(std::string("pickle appends to a ") + kind_name(list->kind));
        list->items.push_back(value);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value*> items = pop_mark();
        Value* list = top();
        if (list->kind != Kind::List) fail(std::string("pickle appends to a ") + kind_name(list->kind));
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case 'c': {  // GLOBAL
        std::string module = read_line();
        std::string name = read_line();
        stack_.push_back(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (module->kind != Kind::String || name->kind != Kind::String) fail("pickle STACK_GLOBAL without two strings");
        stack_.push_back(global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        Value* args = pop();
        Value* cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        Value* kwargs = pop();
        Value* args = pop();
        Value* cls = pop();
        if (kwargs->kind != Kind::Dict || !kwargs->entries.empty()) fail("pickle NEWOBJ_EX with keyword arguments");
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 'b':  // BUILD: obj.__setstate__(state); attributes are ignored
        pop();
        top();
        break;
      case 'Q': {  // BINPERSID
        Value* pid = pop();
        if (!hooks_.persistent_load) fail("pickle has a persistent id where none is expected");
        Value* result = hooks_.persistent_load(arena_, pid);
        if (!result) fail("pickle has a persistent id imret does not understand");
        stack_.push_back(result);
        break;
      }
      default:
        fail("unknown or unsupported pickle opcode " + opcode_text(op));
    }
  }
}

}  // namespace

Value* unpickle(std::string_view bytes, size_t& offset, Arena& arena, const Hooks& hooks,
                const std::string& display_name) {
  if (offset > bytes.size()) throw Error(display_name + ": truncated pickle (file ends before it)");
  Unpickler unpickler(bytes, offset, arena, hooks, display_name);
  Value* result = unpickler.run();
  offset = unpickler.offset();
  return result;
}

}  // namespace imret::pickle
