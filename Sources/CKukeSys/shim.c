#include "CKukeSys.h"
